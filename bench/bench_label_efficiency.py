"""Label efficiency through the pure ML core: simulated annotators answer with the truth, one
label at a time, and every strategy's learning curve is measured on a held-out test set.

For each data set, strategy and seed: 10 cold-start seeds (k-means diverse seeds for the
uncertainty strategies, random ones for random), then one annotator labels in the strategy's
order, the model retrained on a cadence that grows with the labelled set (every label at
first, then every twentieth of it), and self-trained on the pool's unlabelled items as the
platform's models are (engine.fit_model; --no-self-training fits on the labels alone). Reports
area under the learning curve, labels needed to reach 95% of the accuracy of a model trained
on the whole pool, and the first batch's effect.

Run: .venv/bin/python bench/bench_label_efficiency.py [--seeds 5] [--budget N]
Runs split over processes (by seeds or strategies) merge with --report-only A.json B.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_run_options, table  # noqa: E402
from datasets import split  # noqa: E402  (bench/ is not a package)

from models_service.ml import diversity, engine, features, strategies  # noqa: E402

STRATEGIES = ["random", "least_confidence", "margin", "entropy", "committee", "diverse_margin"]
SEEDS_FIRST = 10
BUDGETS = {"digits": 300, "texts": 800}  # labels each run spends
SELF_TRAINING = True  # --no-self-training: models fitted on the labels alone


def featurize(data, pool_items, test_items):
    """Featurizer fitted on the pool's texts (unlabelled text is free to use), or the items'
    own vectors; and how many of its last columns are the pool's directions."""
    featurizer, X_pool = features.fit_transform("tfidf", pool_items)
    return X_pool, features.transform(featurizer, test_items), features.topic_columns(featurizer)


class Weighed:
    """A fitted model that reads rows with the pool's directions (the last `topics` columns)
    weighed as they were when it was fitted, as engine.Bundle does."""

    def __init__(self, model, topics: int, weight: float):
        self.model, self.topics, self.weight = model, topics, weight
        self.classes_ = model.classes_

    def predict(self, X):
        return self.model.predict(features.weigh_topics(X, self.topics, self.weight))

    def predict_proba(self, X):
        return self.model.predict_proba(features.weigh_topics(X, self.topics, self.weight))


def fit(X, y, seed, topics=0, unlabelled=None):
    """The platform's model (engine.fit_model): the pool's directions weighed by the size of
    the labelled set, and self-trained on the `unlabelled` rows unless --no-self-training."""
    weight = features.topic_weight(X.shape[0])
    if not SELF_TRAINING:
        unlabelled = None
    if unlabelled is not None:
        unlabelled = features.weigh_topics(unlabelled, topics, weight)
    model = engine.fit_model(
        "logistic_regression",
        features.weigh_topics(X, topics, weight),
        y,
        seed=seed,
        unlabelled=unlabelled,
    )
    return Weighed(model, topics, weight)


def accuracy(model, X, y) -> float:
    return float((model.predict(X) == y).mean())


def scores_for(strategy, model, X, rng, committee_seed, X_lab, y_lab, n_classes, topics):
    if strategy == "random":
        return rng.random(X.shape[0])
    proba = proba_of(model, X, n_classes)
    if strategy == "committee":
        votes = []
        for member in range(5):
            picks = np.random.default_rng(committee_seed + member).integers(
                0, len(y_lab), len(y_lab)
            )
            if len(np.unique(y_lab[picks])) < 2:
                picks = np.arange(len(y_lab))
            votes.append(fit(X_lab[picks], y_lab[picks], member, topics).predict(X))
        return strategies.vote_entropy(np.stack(votes, axis=0), n_classes)
    if strategy == "diverse_margin" and engine.uses_neighbours(
        len(y_lab), multi_label=False, sparse_features=sparse.issparse(X)
    ):  # as engine.Bundle scores: the margin plus the labelled neighbours' disagreement
        labelled, labelled_proba = X_lab, proba_of(model, X_lab, n_classes)
        disagreement = engine.neighbour_disagreement(X, proba, labelled, labelled_proba)
        return strategies.contrastive_margin(proba, disagreement)
    name = "margin" if strategy == "diverse_margin" else strategy
    return strategies.get(name).score(proba, strategies.Evidence())


def proba_of(model, X, n_classes):
    """The model's probabilities over all classes (columns of classes it never saw are 0)."""
    proba = np.zeros((X.shape[0], n_classes))
    proba[:, model.classes_] = model.predict_proba(X)
    return proba


def run(data, X_pool, X_test, strategy, seed, budget, topics=0):
    """One simulated annotator: after each retrain, the strategy orders the pool and items are
    labelled in that order until the next retrain (the diverse strategy orders the batch one
    per cluster of the top candidates, as the platform does)."""
    rng = np.random.default_rng(seed)
    n_classes = len(data.classes)
    if strategy == "random":
        labelled = list(rng.choice(len(data.pool), SEEDS_FIRST, replace=False))
    else:
        labelled = list(diversity.cold_start(X_pool, SEEDS_FIRST, seed=seed))
    curve, queue = [], []
    while len(labelled) < budget:
        n = len(labelled)
        y_lab = data.pool_y[labelled]
        if len(np.unique(y_lab)) < 2:  # one class only: no classifier yet, add a random item
            rest = np.setdiff1d(np.arange(len(data.pool)), labelled)
            labelled.append(int(rng.choice(rest)))
            continue
        if not queue:
            open_items = np.setdiff1d(np.arange(len(data.pool)), labelled)
            model = fit(X_pool[labelled], y_lab, seed, topics, X_pool[open_items])
            curve.append((n, accuracy(model, X_test, data.test_y)))
            batch = max(1, n // 20)  # the platform's cadence: retrain after this many labels
            scores = scores_for(
                strategy,
                model,
                X_pool,
                rng,
                seed * 100 + n,
                X_pool[labelled],
                y_lab,
                n_classes,
                topics,
            )
            if strategy == "diverse_margin" and batch > 1:
                order = diversity.diverse_batch(scores[open_items], X_pool[open_items], batch)
            else:
                order = strategies.top_k(scores[open_items], batch)
            queue = [int(open_items[i]) for i in order]
        labelled.append(queue.pop(0))
    open_items = np.setdiff1d(np.arange(len(data.pool)), labelled)
    model = fit(X_pool[labelled], data.pool_y[labelled], seed, topics, X_pool[open_items])
    curve.append((len(labelled), accuracy(model, X_test, data.test_y)))
    return curve


def labels_to_reach(curve, mark):
    return next((n for n, acc in curve if acc >= mark), None)


def area(curve, budget):
    """Mean accuracy over 0..budget labels, stepwise from each measured point (1.0 is best)."""
    curve = [(n, acc) for n, acc in curve if n <= budget]
    total, previous_n, previous_acc = 0.0, curve[0][0], curve[0][1]
    for n, acc in curve[1:] + [(budget, curve[-1][1])]:
        total += previous_acc * (n - previous_n)
        previous_n, previous_acc = n, acc
    return total / (budget - curve[0][0])


def median_needed(runs: list) -> tuple[float | None, int]:
    """Median labels to 95% of each run's full-pool accuracy (None unless every run got
    there), and how many runs got there."""
    needed = [labels_to_reach(r["curve"], 0.95 * r["full_pool_accuracy"]) for r in runs]
    reached = [n for n in needed if n is not None]
    return (float(np.median(reached)) if len(reached) == len(needed) else None), len(reached)


def report(curves: dict, budget_arg: int | None) -> None:
    """The table: per data set and strategy, area, labels to the mark and the first batch."""
    rows = []
    for name, by_strategy in curves.items():
        budget = budget_arg or BUDGETS[name]
        random_needed = median_needed(by_strategy["random"])[0] if "random" in by_strategy else None
        order = sorted(by_strategy, key=lambda s: STRATEGIES.index(s) if s in STRATEGIES else 99)
        for strategy in order:
            runs = by_strategy[strategy]
            median, reached = median_needed(runs)
            areas = [area(r["curve"], budget) for r in runs]
            seed_acc = [r["curve"][0][1] for r in runs]
            after_first = [min(acc for n, acc in r["curve"] if n <= 2 * SEEDS_FIRST) for r in runs]
            after_first = [a - s for a, s in zip(after_first, seed_acc, strict=True)]
            rows.append(
                [
                    name,
                    strategy,
                    len(runs),
                    f"{np.mean([r['full_pool_accuracy'] for r in runs]):.3f}",
                    f"{np.mean(areas):.3f}",
                    f"{median:.0f}" if median is not None else f">{budget} ({reached}/{len(runs)})",
                    ""
                    if strategy == "random" or median is None or not random_needed
                    else f"{median / random_needed:.2f}",
                    f"{np.mean(seed_acc):.3f}",
                    f"{min(after_first):+.3f}",
                ]
            )
    table(
        "Label efficiency, pure ML core, one label at a time (logistic regression, test set 30%)",
        [
            "data set",
            "strategy",
            "seeds",
            "full-pool accuracy",
            "area under curve (mean acc.)",
            "labels to 95% of full (median)",
            "vs random",
            "seed-model acc.",
            "worst change to 20 labels",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    add_run_options(parser, seeds=5)
    parser.add_argument("--strategies", nargs="+", default=STRATEGIES)
    parser.add_argument("--curves", type=Path, default=Path("docs/label-efficiency-core.json"))
    parser.add_argument(
        "--no-self-training", action="store_true", help="fit models on the labels alone"
    )
    parser.add_argument(
        "--report-only",
        nargs="+",
        type=Path,
        metavar="CURVES",
        help="no runs: merge these curve files (runs of other seeds or strategies), print "
        "their table and write the merge to --curves",
    )
    args = parser.parse_args()
    if args.report_only:
        merged = {}
        for path in args.report_only:
            for name, by_strategy in json.loads(path.read_text()).items():
                for strategy, runs in by_strategy.items():
                    merged.setdefault(name, {}).setdefault(strategy, []).extend(runs)
        report(merged, args.budget)
        args.curves.write_text(json.dumps(merged))
        return
    global SELF_TRAINING
    SELF_TRAINING = not args.no_self_training
    curves = {}
    for name in args.datasets:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            data = split(name, seed)
            X_pool, X_test, topics = featurize(data, data.pool, data.test)
            full = accuracy(fit(X_pool, data.pool_y, seed, topics), X_test, data.test_y)
            for strategy in args.strategies:
                started = time.perf_counter()
                # random runs to the whole pool, so that its labels-to-95% is a number, not ">"
                budget = args.budget or BUDGETS[name]
                if strategy == "random":
                    budget = len(data.pool)
                curve = run(data, X_pool, X_test, strategy, seed, budget, topics)
                curves.setdefault(name, {}).setdefault(strategy, []).append(
                    {"seed": seed, "full_pool_accuracy": full, "curve": curve}
                )
                print(
                    f"{name} seed {seed} {strategy}: {time.perf_counter() - started:.1f}s",
                    file=sys.stderr,
                )
    report(curves, args.budget)
    args.curves.parent.mkdir(parents=True, exist_ok=True)
    args.curves.write_text(json.dumps(curves))


if __name__ == "__main__":
    main()
