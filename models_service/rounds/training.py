"""Fitting a version's bundle (featurizer, model, what its strategy needs) from its training
data, and getting a version's bundle back, refitted when its file is stale."""

from dataclasses import dataclass

from annotation import selectors
from annotation.models import Project
from models_service.ml import engine, features
from models_service.models import ModelVersion
from models_service.rounds.artifacts import StaleArtifact, store
from models_service.rounds.data import TrainingData, pool_sample, training_data


@dataclass
class Fitted:
    """A fitted bundle, with the pool sample its featurizer learned from."""

    bundle: engine.Bundle
    sample_ids: list[int]
    sample: list[dict]


def featurizer_key(project_id: int, pool_size: int, sample_ids: list[int]) -> tuple:
    """Names a project's featurizer: the same as long as the kind and the pool sample are."""
    return (project_id, engine.featurizer_for(pool_size), hash(tuple(sample_ids)))


def fit(project: Project, data: TrainingData, *, number: int, model: str, strategy: str) -> Fitted:
    """Fit the featurizer on the pool sample (kept in this process while the sample stays),
    then the model on the training labels, measured on the evaluation sample; on text, while
    labels are few, the model also self-trains on the sample's unlabelled items."""
    vectors = features.vectors_of(data.train.items) is not None
    sample_ids, sample = pool_sample(project.id, vectors=vectors)
    pool_size = selectors.item_count(project.id)
    key = None if vectors else featurizer_key(project.id, pool_size, sample_ids)
    featurizer = None if key is None else store.featurizer(key, sample)
    unlabelled = None
    if engine.self_trains(
        len(data.train.items), multi_label=project.is_multi_label, sparse_features=not vectors
    ):
        unlabelled = _unlabelled_features(
            key, featurizer, sample_ids, sample, set(data.train.ids + data.eval.ids)
        )
    bundle = engine.train(
        data.train.items,
        data.train.targets,
        classes=data.classes,
        multi_label=project.is_multi_label,
        model_name=model,
        strategy=strategy,
        pool_size=pool_size,
        eval_items=data.eval.items,
        eval_targets=data.eval.targets,
        featurizer=featurizer,
        seed=number,
        cross_validate=False,  # after the switch: see evaluation.cross_validate
        unlabelled=unlabelled,
        rows=store.features(key, featurizer, data.train.ids, data.train.items),
    )
    bundle.featurizer_key = key
    return Fitted(bundle, sample_ids, sample)


def _unlabelled_features(key, featurizer, sample_ids, sample, labelled: set[int]):
    """Text features of the pool sample's items that carry no label, for the model to
    self-train on (engine.fit_model); evaluation items stay out, so that the sample stays
    unseen."""
    keep = [k for k, item_id in enumerate(sample_ids) if item_id not in labelled]
    if not keep:
        return None
    ids = [sample_ids[k] for k in keep]
    return store.features(key, featurizer, ids, [sample[k] for k in keep])


def bundle_of(version: ModelVersion) -> engine.Bundle:
    """The version's bundle (this process's copy when it has one); refitted and stored again
    when its file was written under other library versions."""
    try:
        return store.load(version)
    except StaleArtifact:
        return refit(version)


def fresh_bundle_of(version: ModelVersion) -> engine.Bundle:
    """A copy of the version's bundle to change (an incremental update) without touching
    this process's copy."""
    try:
        return store.read(version)
    except StaleArtifact:
        refit(version)
        return store.read(version)


def refit(version: ModelVersion) -> engine.Bundle:
    """Train the version's model again, under this process's library versions, from the
    answers it could have been trained on (given before its row was written), and store it in
    place of the stale file. Its figures stay those of the original fit."""
    project = Project.objects.get(id=version.project_id)
    data = training_data(project, answered_until=version.created_at)
    bundle = fit(
        project, data, number=version.number, model=version.model, strategy=version.strategy
    ).bundle
    store.save(version, bundle)
    store.remember(version, bundle)
    return bundle
