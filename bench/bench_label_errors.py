"""Label-error detection against ground truth (issue 26): flip 10% of a fully labelled set's
labels at random, let confident learning (models_service.ml.label_errors, as the worker runs
it after a round) rank the suspects, and measure:

- precision and recall of the top N suspects, N = the number flipped (fewer when cleanlab
  flags fewer: precision is then over those it flagged). Target: precision >= 0.6;
- the model's accuracy on the held-out test set trained on the clean labels, on the noisy
  ones, and on the noisy ones after a reviewer (simulated: the truth) fixed the flagged items;
  the share of the noise's cost recovered. Target: at least half.

The data sets and splits of the engine's benchmarks (bench/datasets.py: the pool is labelled,
the test set measures), the featurizer and model of a round (ml.engine.train, the project's
default estimator). `--scale` also times the detection at 2,000 and 20,000 labelled synthetic
texts (bench.common.pool_jsonl) beside the round's own fit, and `--folds` compares folds.

Pure computation, no server: about two minutes for 3 seeds (the scale part one more).
Run: .venv/bin/python bench/bench_label_errors.py [--seeds 3] [--scale] [--folds 3 5]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datasets import LOADERS, split  # noqa: E402  (bench/ is not a package)

from bench.common import pool_jsonl, table  # noqa: E402
from models_service.ml import engine, estimators, label_errors  # noqa: E402

NOISE = 0.10


def flip(y: np.ndarray, n_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, flipped rows): NOISE of the rows, each moved to another class at random."""
    rows = np.sort(rng.choice(len(y), round(NOISE * len(y)), replace=False))
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, n_classes, len(rows))) % n_classes
    return noisy, rows


def fit(items: list[dict], y: np.ndarray, classes: list[str], seed: int) -> engine.Bundle:
    return engine.train(
        items,
        list(y),
        classes=classes,
        multi_label=False,
        model_name=estimators.DEFAULT,
        strategy="margin",
        pool_size=len(items),
        seed=seed,
        cross_validate=False,
    )


def accuracy(bundle: engine.Bundle, items: list[dict], y: np.ndarray) -> float:
    return float((bundle.proba(bundle.features(items)).argmax(axis=1) == y).mean())


def detect(bundle: engine.Bundle, items: list[dict], y: np.ndarray, seed: int, folds: int):
    """The suspects and seconds, as the worker finds them: the round's features, the
    project's estimator, out-of-sample by `folds`."""
    X = bundle.model_input(bundle.features(items))
    started = time.perf_counter()
    estimator = estimators.make_estimator(estimators.DEFAULT, seed=seed)
    found = label_errors.find(estimator, X, y, seed=seed, folds=folds)
    return found, time.perf_counter() - started


def one_run(name: str, seed: int, folds: int) -> list:
    data = split(name, seed)
    rng = np.random.default_rng(seed)
    noisy, flipped = flip(data.pool_y, len(data.classes), rng)
    n = len(flipped)
    clean_model = fit(data.pool, data.pool_y, data.classes, seed)
    started = time.perf_counter()
    noisy_model = fit(data.pool, noisy, data.classes, seed)
    fit_s = time.perf_counter() - started
    found, seconds = detect(noisy_model, data.pool, noisy, seed, folds)
    flagged = found.rows[:n]
    hits = len(np.intersect1d(flagged, flipped))
    fixed = noisy.copy()
    fixed[flagged] = data.pool_y[flagged]
    clean = accuracy(clean_model, data.test, data.test_y)
    dirty = accuracy(noisy_model, data.test, data.test_y)
    after = accuracy(fit(data.pool, fixed, data.classes, seed), data.test, data.test_y)
    recovered = (after - dirty) / (clean - dirty) if clean > dirty else float("nan")
    return [
        name,
        folds,
        seed,
        len(data.pool),
        n,
        len(found),
        f"{hits / max(len(flagged), 1):.2f}",
        f"{hits / n:.2f}",
        f"{clean:.3f}",
        f"{dirty:.3f}",
        f"{after:.3f}",
        f"{recovered:.0%}",
        f"{fit_s:.1f}",
        f"{seconds:.1f}",
    ]


def scale(sizes: list[int], folds: int) -> None:
    """Detection's seconds against the round's fit, on synthetic texts of four classes."""
    rows = []
    for size in sizes:
        lines = [json.loads(line) for line in pool_jsonl(size).decode().splitlines()]
        classes = sorted({row["truth"] for row in lines})
        items = [{"text": row["text"]} for row in lines]
        truth = np.array([classes.index(row["truth"]) for row in lines])
        noisy, flipped = flip(truth, len(classes), np.random.default_rng(0))
        started = time.perf_counter()
        bundle = fit(items, noisy, classes, 0)
        train_s = time.perf_counter() - started
        found, seconds = detect(bundle, items, noisy, 0, folds)
        hits = len(np.intersect1d(found.rows[: len(flipped)], flipped))
        rows.append(
            [
                size,
                engine.featurizer_for(size),
                folds,
                f"{train_s:.1f}",
                f"{seconds:.1f}",
                f"{seconds / train_s:.1f}",
                f"{hits / len(flipped):.2f}",
            ]
        )
    table(
        "Label-error detection's cost against the round's training (synthetic texts, 4 classes)",
        [
            "labelled",
            "featurizer",
            "folds",
            "round's featurize+fit s",
            "detection s",
            "x the fit",
            "precision@N",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--folds", type=int, nargs="+", default=[label_errors.FOLDS])
    parser.add_argument("--scale", action="store_true", help="also time 2,000 and 20,000 labels")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000])
    args = parser.parse_args()
    rows = [
        one_run(name, seed, folds)
        for folds in args.folds
        for name in LOADERS
        for seed in range(args.seeds)
    ]
    table(
        f"Label errors: {NOISE:.0%} of a fully labelled pool flipped, top N suspects reviewed",
        [
            "data set",
            "folds",
            "seed",
            "labelled",
            "flipped N",
            "cleanlab flags",
            "precision@N",
            "recall@N",
            "acc clean",
            "acc noisy",
            "acc fixed",
            "cost recovered",
            "round's fit s",
            "detection s",
        ],
        rows,
    )
    if args.scale:
        scale(args.sizes, args.folds[-1])


if __name__ == "__main__":
    main()
