"""Truth inference: an item's label from several people's answers, weighing each person by
how they answer, not one vote each. Pure numpy, no Django.

Dawid-Skene (1979): each annotator has a confusion matrix, the chance that they answer label
l when the truth is j; the true labels and the matrices are estimated together by EM. It
handles annotators who are systematically biased (always "neutral" when unsure, or one
label whatever the item), not only noisy ones: their answers are read through their matrix,
so a biased annotator's vote for their favourite label weighs little. Majority vote is the
same computation with every matrix the identity. bench/bench_truth_crowdkit.py checks it against
crowd-kit's implementation, run in an environment of its own.

Answers are given as three parallel integer arrays (item, annotator, label), each row one
person's answer to one item; items, annotators and labels are numbered from 0.
"""

from dataclasses import dataclass

import numpy as np

SMOOTHING = 0.01  # added to every count: a label someone never used is unlikely, not impossible


@dataclass(frozen=True)
class TruthEstimate:
    posteriors: np.ndarray  # items x labels: the chance of each label being the truth
    confusion: np.ndarray  # annotators x true label x answered label
    priors: np.ndarray  # labels: how common each label is
    iterations: int

    def accuracy(self) -> np.ndarray:
        return annotator_accuracy(self.confusion, self.priors)


def annotator_accuracy(confusion: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Each annotator's estimated chance of answering the truth, over the labels'
    frequencies."""
    return np.diagonal(confusion, axis1=1, axis2=2) @ priors


def majority_vote(
    items: np.ndarray, labels: np.ndarray, *, n_items: int, n_labels: int
) -> np.ndarray:
    """Each item's share of votes per label (items x labels; an item without answers gets
    an even spread)."""
    votes = np.zeros((n_items, n_labels))
    np.add.at(votes, (items, labels), 1.0)
    totals = votes.sum(axis=1, keepdims=True)
    return np.divide(votes, totals, out=np.full_like(votes, 1 / n_labels), where=totals > 0)


def dawid_skene(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_annotators: int,
    n_labels: int,
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    smoothing: float = SMOOTHING,
) -> TruthEstimate:
    """EM from the majority vote: estimate the matrices and priors from the current
    posteriors (M), then the posteriors from the matrices (E), until the posteriors move
    less than `tolerance`. `smoothing` is the count added to every cell of the matrices."""
    posteriors = majority_vote(items, labels, n_items=n_items, n_labels=n_labels)
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (kept: how many it took)
        confusion, priors = _maximise(
            posteriors, items, annotators, labels, n_annotators, smoothing
        )
        updated = item_posteriors(items, annotators, labels, confusion, priors, n_items=n_items)
        moved = float(np.abs(updated - posteriors).max()) if n_items else 0.0
        posteriors = updated
        if moved < tolerance:
            break
    confusion, priors = _maximise(posteriors, items, annotators, labels, n_annotators, smoothing)
    return TruthEstimate(posteriors, confusion, priors, iterations)


def _maximise(
    posteriors: np.ndarray,
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    n_annotators: int,
    smoothing: float,
) -> tuple[np.ndarray, np.ndarray]:
    n_labels = posteriors.shape[1]
    counts = np.full((n_annotators, n_labels, n_labels), smoothing)
    # each answer (a, l) adds its item's belief in every true label j to counts[a, j, l]
    for truth in range(n_labels):
        np.add.at(counts[:, truth, :], (annotators, labels), posteriors[items, truth])
    confusion = counts / counts.sum(axis=2, keepdims=True)
    priors = posteriors.sum(axis=0) + smoothing
    return confusion, priors / priors.sum()


def item_posteriors(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    confusion: np.ndarray,
    priors: np.ndarray,
    *,
    n_items: int,
) -> np.ndarray:
    """The posteriors of the items given the matrices and priors: each item's depends only
    on its own answers, so a fitted estimate also judges new items' answers."""
    log_belief = np.tile(np.log(priors), (n_items, 1))
    # answer (i, a, l) multiplies item i's belief in truth j by confusion[a, j, l]
    np.add.at(log_belief, items, np.log(confusion[annotators, :, labels]))
    log_belief -= log_belief.max(axis=1, keepdims=True)
    belief = np.exp(log_belief)
    return belief / belief.sum(axis=1, keepdims=True)
