"""Dynamic overlap against a fixed overlap of 3, on the simulated crowd of
bench_truth_inference.py (two annotators right 90% of the time, two 75%, one answering the
same label 80% of the time) over the two data sets of the engine's benchmarks.

Dynamic: overlap 1, max_overlap 3, an agreement sample of 10% (two answers), consensus
`auto` (majority until 50 items have two answers, then Dawid-Skene, refit every 200 items as
rounds would), threshold --threshold. Items are answered one after another by annotators
drawn at random among those who have not answered them; after each answer the platform's own
rule (annotation.consensus.wants_another, with the judging of annotation.consensus) decides
whether the item asks for another. Fixed: three answers per item, Dawid-Skene over all.

With the serving model as evidence (--model-weight, the platform's MODEL_WEIGHT by default):
a model of the project's default estimator and featurizer, trained every REFIT_EVERY items on
the consensus labels so far (never the truth), its predicted label and confidence counted
beside the people in the decision to ask for another answer (annotation.consensus), as
annotation.services does with the serving ranking's prediction.

Target (issue 26): the same consensus accuracy (within 1 point) with at most 70% of the
answers. Pure computation, no server: about 4 minutes for 3 seeds with the model.
Run: .venv/bin/python bench/bench_dynamic_overlap.py [--seeds 3] [--threshold 0.97]
     [--model-weight 0.75 1]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_truth_inference import CROWD, crowd_matrices, simulate  # noqa: E402
from datasets import LOADERS  # noqa: E402  (bench/ is not a package)

from annotation.consensus import (  # noqa: E402
    AUTO_MIN_ITEMS,
    MODEL_WEIGHT,
    FittedTruth,
    agreed_labels,
    in_agreement_sample,
    model_evidence,
    wants_another,
)
from annotation.truth import dawid_skene  # noqa: E402
from bench.common import table  # noqa: E402
from models_service.ml import engine, estimators  # noqa: E402

REFIT_EVERY = 200


def fit(answers: list[tuple[int, int, int]], n_labels: int) -> FittedTruth | None:
    """Dawid-Skene over the items answered twice or more, as annotation.judging.refit does."""
    per_item: dict[int, int] = {}
    for item, _, _ in answers:
        per_item[item] = per_item.get(item, 0) + 1
    several = [a for a in answers if per_item[a[0]] >= 2]
    items = sorted({item for item, _, _ in several})
    if len(items) < AUTO_MIN_ITEMS:
        return None
    rows = {item: n for n, item in enumerate(items)}
    estimate = dawid_skene(
        np.array([rows[i] for i, _, _ in several]),
        np.array([a for _, a, _ in several]),
        np.array([label for _, _, label in several]),
        n_items=len(items),
        n_annotators=len(CROWD),
        n_labels=n_labels,
    )
    return FittedTruth(
        labels=[str(n) for n in range(n_labels)],
        annotators={str(a): a for a in range(len(CROWD))},
        confusion=estimate.confusion,
        priors=estimate.priors,
    )


def judge(fitted: FittedTruth | None, given: list[tuple[int, int]], evidence=None):
    answers = [(str(a), [str(label)]) for a, label in given]
    if fitted is None:
        return agreed_labels([labels for _, labels in answers], multi_label=False)
    return fitted.agreement(answers, evidence=evidence)


class Model:
    """The serving model as the platform keeps it: trained (the project's default estimator
    and featurizer) every REFIT_EVERY items on the consensus labels of the items done so far,
    never on the truth; its predicted label and confidence for every item."""

    def __init__(self, items: list[dict], n_labels: int, seed: int):
        self.items, self.classes, self.seed = items, [str(n) for n in range(n_labels)], seed
        self.predicted: np.ndarray | None = None
        self.confidence: np.ndarray | None = None

    def train(self, fitted: FittedTruth | None, given_by_item: list) -> None:
        done = [
            (item, int(agreement.labels[0]))
            for item, given in enumerate(given_by_item)
            if given and (agreement := judge(fitted, given)) and agreement.labels
        ]
        if len({label for _, label in done}) < 2:
            return
        bundle = engine.train(
            [self.items[item] for item, _ in done],
            [label for _, label in done],
            classes=self.classes,
            multi_label=False,
            model_name=estimators.DEFAULT,
            strategy="margin",
            pool_size=len(self.items),
            seed=self.seed,
            cross_validate=False,
        )
        proba = bundle.proba(bundle.features(self.items))
        self.predicted, self.confidence = proba.argmax(axis=1), proba.max(axis=1)

    def evidence(self, item: int, weight: float):
        if self.predicted is None or self.confidence is None:
            return None
        return model_evidence(
            self.classes,
            str(self.predicted[item]),
            float(self.confidence[item]),
            weight=weight,
        )


def dynamic(
    truth, matrices, rng, threshold: float, model: Model | None = None, weight: float = 1.0
) -> tuple[float, int]:
    n_labels = matrices.shape[1]
    answers: list[tuple[int, int, int]] = []
    given_by_item: list[list[tuple[int, int]]] = [[] for _ in truth]
    fitted = None
    for item, true_label in enumerate(truth):
        minimum = 2 if in_agreement_sample(item + 1, 0.1) else 1
        order = rng.permutation(len(CROWD))
        evidence = model.evidence(item, weight) if model is not None else None
        for annotator in order[:3]:
            label = int(rng.choice(n_labels, p=matrices[annotator, true_label]))
            given_by_item[item].append((int(annotator), label))
            answers.append((item, int(annotator), label))
            agreement = judge(fitted, given_by_item[item])
            informed = (
                judge(fitted, given_by_item[item], evidence)
                if evidence is not None and fitted is not None
                else None
            )
            more = wants_another(
                agreement,
                answers=len(given_by_item[item]),
                minimum=minimum,
                maximum=3,
                threshold=threshold,
                informed=informed,
            )
            if not more:
                break
        if (item + 1) % REFIT_EVERY == 0:
            fitted = fit(answers, n_labels)
            if model is not None:
                model.train(fitted, given_by_item)
    fitted = fit(answers, n_labels)  # the final consensus, as an export after a round
    return accuracy(fitted, given_by_item, truth), len(answers)


def fixed(truth, matrices, rng) -> tuple[float, int]:
    """Three answers per item (bench_truth_inference.simulate), Dawid-Skene over all."""
    items, annotators, labels = simulate(truth, matrices, 3, rng)
    answers = [
        (int(i), int(a), int(label)) for i, a, label in zip(items, annotators, labels, strict=True)
    ]
    fitted = fit(answers, matrices.shape[1])
    by_item: list[list[tuple[int, int]]] = [[] for _ in truth]
    for item, annotator, label in answers:
        by_item[item].append((annotator, label))
    return accuracy(fitted, by_item, truth), len(answers)


def accuracy(fitted: FittedTruth | None, by_item: list, truth) -> float:
    """The share of items whose consensus is their true label."""
    correct = sum(
        bool((agreement := judge(fitted, given)) and agreement.labels == [str(true_label)])
        for given, true_label in zip(by_item, truth, strict=True)
    )
    return correct / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--model-weight",
        type=float,
        nargs="*",
        default=[MODEL_WEIGHT],
        help="also run with the serving model counted as evidence, at each of these weights "
        "(none: the people alone)",
    )
    args = parser.parse_args()
    rows = []
    for name, load in LOADERS.items():
        items, truth, classes = load()
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            matrices = crowd_matrices(len(classes), int(rng.integers(0, len(classes))))
            fixed_accuracy, fixed_answers = fixed(truth, matrices, np.random.default_rng(seed))
            runs = [("people only", None, 1.0)] + [
                (f"model at {w:g}", Model(items, len(classes), seed), w) for w in args.model_weight
            ]
            for evidence, model, weight in runs:
                reached, used = dynamic(
                    truth, matrices, np.random.default_rng(seed), args.threshold, model, weight
                )
                rows.append(
                    [
                        name,
                        seed,
                        evidence,
                        len(truth),
                        f"{fixed_accuracy:.3f}",
                        f"{reached:.3f}",
                        f"{(reached - fixed_accuracy) * 100:+.1f}",
                        f"{used / fixed_answers:.2f}",
                    ]
                )
    table(
        f"Dynamic overlap 1-3 (threshold {args.threshold}) against a fixed overlap of 3",
        [
            "data set",
            "seed",
            "evidence",
            "items",
            "fixed 3 acc",
            "dynamic acc",
            "points",
            "answers ratio",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
