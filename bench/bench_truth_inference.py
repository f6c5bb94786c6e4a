"""Truth inference against ground truth: majority vote vs Dawid-Skene (annotation.truth) on a
simulated crowd answering the two data sets of the engine's benchmarks (bench/datasets.py:
their true labels are the truth).

The crowd (issue 26): five annotators, two right 90% of the time, two 75% (their mistakes
spread evenly over the other labels), and one who answers the same label 80% of the time
whatever the item (else the truth). Each item gets 3 answers from 3 of the 5, drawn at
random. Majority vote breaks ties at random. Target: Dawid-Skene >= majority vote + 3 points,
and it names the biased annotator the least accurate.

Pure computation, no server: a few seconds.
Run: .venv/bin/python bench/bench_truth_inference.py [--seeds 5] [--answers 3]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datasets import LOADERS  # noqa: E402  (bench/ is not a package)

from annotation.truth import dawid_skene, majority_vote  # noqa: E402
from bench.common import table  # noqa: E402

CROWD = [("90% a", 0.9), ("90% b", 0.9), ("75% a", 0.75), ("75% b", 0.75), ("biased", None)]
BIASED_SHARE = 0.8


def crowd_matrices(n_labels: int, favourite: int) -> np.ndarray:
    """annotators x truth x answer: what each of CROWD answers for each true label."""
    matrices = []
    for _, accuracy in CROWD:
        if accuracy is None:
            matrix = np.eye(n_labels) * (1 - BIASED_SHARE)
            matrix[:, favourite] += BIASED_SHARE
        else:
            wrong = (1 - accuracy) / (n_labels - 1)
            matrix = np.full((n_labels, n_labels), wrong)
            np.fill_diagonal(matrix, accuracy)
        matrices.append(matrix)
    return np.array(matrices)


def simulate(truth: np.ndarray, matrices: np.ndarray, per_item: int, rng) -> tuple:
    n_items, n_labels = len(truth), matrices.shape[1]
    annotators = np.array([rng.choice(len(CROWD), per_item, replace=False) for _ in truth])
    annotators = annotators.ravel()
    items = np.repeat(np.arange(n_items), per_item)
    rows = matrices[annotators, truth[items]]  # each answer's distribution
    labels = (rows.cumsum(axis=1) > rng.random((len(rows), 1))).argmax(axis=1)
    return items, annotators, labels.clip(0, n_labels - 1)


def simulated_crowds(seeds: int, per_item: int):
    """For each data set and seed: (data set, seed, truth, classes, the crowd's matrices, the
    answers as items, annotators, labels, and the seed's generator for what follows)."""
    for name, load in LOADERS.items():
        _, truth, classes = load()
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            favourite = int(rng.integers(0, len(classes)))
            matrices = crowd_matrices(len(classes), favourite)
            answers = simulate(truth, matrices, per_item, rng)
            yield name, seed, truth, classes, matrices, answers, rng


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--answers", type=int, default=3, help="answers per item")
    args = parser.parse_args()
    rows = []
    for name, seed, truth, classes, _, answers, rng in simulated_crowds(args.seeds, args.answers):
        items, annotators, labels = answers
        votes = majority_vote(items, labels, n_items=len(truth), n_labels=len(classes))
        majority = (votes + rng.uniform(0, 1e-9, votes.shape)).argmax(axis=1)
        start = time.perf_counter()
        estimate = dawid_skene(
            items,
            annotators,
            labels,
            n_items=len(truth),
            n_annotators=len(CROWD),
            n_labels=len(classes),
        )
        seconds = time.perf_counter() - start
        inferred = estimate.posteriors.argmax(axis=1)
        accuracy = estimate.accuracy()
        rows.append(
            [
                name,
                seed,
                len(truth),
                f"{(majority == truth).mean():.3f}",
                f"{(inferred == truth).mean():.3f}",
                f"{((inferred == truth).mean() - (majority == truth).mean()) * 100:+.1f}",
                CROWD[int(accuracy.argmin())][0],
                " ".join(f"{a:.2f}" for a in accuracy),
                estimate.iterations,
                f"{seconds * 1000:.0f}",
            ]
        )
    table(
        f"Truth inference on a simulated crowd ({args.answers} answers per item)",
        [
            "data set",
            "seed",
            "items",
            "majority acc",
            "Dawid-Skene acc",
            "points",
            "least accurate",
            "estimated accuracy (90 90 75 75 biased)",
            "EM iterations",
            "ms",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
