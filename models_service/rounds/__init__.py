"""A model round on the database side, one job per module (the learning itself is
models_service.ml, with no Django):

- lifecycle: claim, train and store a version, score chunks, switch the queue, tidy up;
- data: the training labels and the pool sample, read through annotation's selectors;
- training: fit a version's bundle, or refit one whose file is stale;
- artifacts: model and featurizer files, and what a worker keeps of them in memory;
- scoring: scores, predictions and confidences as the queue's ranking stores them;
- diversity: the diverse batch on top of a ranking;
- stopping: the stopping rule's decision for a new version;
- evaluation: cross-validation of the serving version;
- seeding: the diverse seeds served before the first model;
- adapting: incremental updates between rounds.

The order of tasks (a round's chunks, what follows a round) is models_service.tasks' alone.
"""
