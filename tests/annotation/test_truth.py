"""Truth inference (annotation.truth): Dawid-Skene recovers the confusion matrices it is
given answers from, and beats majority vote when one annotator is biased."""

import numpy as np
import pytest

from annotation.truth import dawid_skene, item_posteriors, majority_vote

N_LABELS = 3


def _confusion(accuracy: float) -> np.ndarray:
    """Right with `accuracy`, else an even spread over the other labels."""
    wrong = (1 - accuracy) / (N_LABELS - 1)
    return np.full((N_LABELS, N_LABELS), wrong) + np.eye(N_LABELS) * (accuracy - wrong)


def _biased(favourite: int, share: float) -> np.ndarray:
    """Answers `favourite` with chance `share` whatever the truth, else the truth."""
    matrix = np.eye(N_LABELS) * (1 - share)
    matrix[:, favourite] += share
    return matrix


CROWD = [_confusion(0.9), _confusion(0.9), _confusion(0.75), _confusion(0.75), _biased(0, 0.8)]


def _answers(n_items: int, per_item: int, seed: int):
    """A simulated crowd: each item answered by `per_item` of CROWD, drawn at random, each
    answer drawn from the annotator's row for the item's true label."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, N_LABELS, n_items)
    items, annotators, labels = [], [], []
    for item in range(n_items):
        for annotator in rng.choice(len(CROWD), per_item, replace=False):
            items.append(item)
            annotators.append(annotator)
            labels.append(rng.choice(N_LABELS, p=CROWD[annotator][truth[item]]))
    return truth, np.array(items), np.array(annotators), np.array(labels)


@pytest.fixture(scope="module")
def crowd():
    truth, items, annotators, labels = _answers(3_000, 3, seed=7)
    estimate = dawid_skene(
        items, annotators, labels, n_items=3_000, n_annotators=len(CROWD), n_labels=N_LABELS
    )
    return truth, items, annotators, labels, estimate


def test_dawid_skene_recovers_the_crowds_confusion_matrices(crowd):
    *_, estimate = crowd
    assert np.abs(estimate.confusion - np.array(CROWD)).max() < 0.06
    assert np.allclose(estimate.priors, 1 / N_LABELS, atol=0.03)


def test_dawid_skene_beats_majority_vote_with_a_biased_annotator(crowd):
    truth, items, _annotators, labels, estimate = crowd
    votes = majority_vote(items, labels, n_items=len(truth), n_labels=N_LABELS)
    # ties are broken at random, not towards label 0, so majority vote is not flattered
    rng = np.random.default_rng(0)
    majority = (votes + rng.uniform(0, 1e-6, votes.shape)).argmax(axis=1)
    majority_accuracy = (majority == truth).mean()
    dawid_skene_accuracy = (estimate.posteriors.argmax(axis=1) == truth).mean()
    assert dawid_skene_accuracy >= majority_accuracy + 0.02  # 91.3% against 88.2% here


def test_the_biased_annotator_is_estimated_the_least_accurate(crowd):
    *_, estimate = crowd
    accuracy = estimate.accuracy()
    assert accuracy.argmin() == 4
    assert accuracy[:2].min() > accuracy[2:4].max()  # the 90% pair above the 75% pair


def test_a_fitted_estimate_judges_a_new_items_answers(crowd):
    *_, fitted = crowd
    # the biased annotator says 0 and one careful annotator 1: a tie by votes, 1 by the
    # matrices (the biased one says 0 most of the time whatever the truth)
    posterior = item_posteriors(
        np.array([0, 0]),
        np.array([4, 0]),
        np.array([0, 1]),
        fitted.confusion,
        fitted.priors,
        n_items=1,
    )
    assert posterior.argmax() == 1 and posterior[0, 1] > 0.9


def test_unanimous_answers_stay_the_truth_and_the_run_converges():
    items, annotators, labels = (
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([2, 2, 1, 1]),
    )
    estimate = dawid_skene(items, annotators, labels, n_items=2, n_annotators=2, n_labels=3)
    assert list(estimate.posteriors.argmax(axis=1)) == [2, 1]
    assert estimate.iterations < 100
