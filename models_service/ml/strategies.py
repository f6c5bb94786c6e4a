"""Query strategies: how informative each unlabelled item is, higher first.

Every scorer takes class probabilities of shape (n_items, n_classes) (multi-label: the
per-label probability of "yes") and returns one score per item; batch selection breaks ties
by item position, so the same input always gives the same order. The strategies a project
can choose are objects in STRATEGIES. numpy only: the web process lists them without loading
scikit-learn (the clustering that diversifies a batch is in models_service.ml.diversity).
"""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from models_service.ml.arrays import FloatArray, IndexArray


def _check(proba: FloatArray) -> FloatArray:
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2:
        raise ValueError(f"expected (n_items, n_classes), got shape {proba.shape}")
    return proba


def least_confidence(proba: FloatArray) -> FloatArray:
    """1 - p(top class): how far the model is from sure of its own answer."""
    proba = _check(proba)
    scores: FloatArray = 1.0 - proba.max(axis=1)  # numpy types reductions over an axis as Any
    return scores


def margin_uncertainty(proba: FloatArray) -> FloatArray:
    """1 - (p_top1 - p_top2); a one-class model is certain (0)."""
    proba = _check(proba)
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    top2 = np.sort(proba, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba: FloatArray) -> FloatArray:
    """Shannon entropy of the class distribution, in nats."""
    proba = np.clip(_check(proba), 1e-12, 1.0)
    scores: FloatArray = -(proba * np.log(proba)).sum(axis=1)
    return scores


def multilabel_uncertainty(proba: FloatArray) -> FloatArray:
    """Mean over labels of 1 - |2p - 1|: each label's yes/no is a two-class question."""
    proba = _check(proba)
    scores: FloatArray = (1.0 - np.abs(2.0 * proba - 1.0)).mean(axis=1)
    return scores


def vote_entropy(committee_votes: IndexArray, n_classes: int) -> FloatArray:
    """Disagreement of a committee: entropy of the vote shares per item.

    `committee_votes` is (n_members, n_items) of predicted class indices.
    """
    votes = np.asarray(committee_votes)
    if votes.ndim != 2:
        raise ValueError(f"expected (n_members, n_items), got shape {votes.shape}")
    shares = np.stack([(votes == c).mean(axis=0) for c in range(n_classes)], axis=1)
    return entropy(shares)


def neighbour_disagreement(
    proba: FloatArray, neighbour_proba: FloatArray, similarity: FloatArray, k: int = 10
) -> FloatArray:
    """How far each item's predicted classes are from those of its k most similar labelled
    items: the mean KL divergence (nats) from each neighbour's class distribution to the item's.

    `similarity` is (n_items, n_labelled); `neighbour_proba` the model's probabilities on the
    labelled items. High where the model draws a boundary between an item and the labelled
    items it resembles most: a place where its reasons may be wrong, not only unsure. The
    measure is that of contrastive active learning (Margatina et al., EMNLP 2021).
    """
    proba = _check(proba)
    neighbour_proba = _check(neighbour_proba)
    similarity = np.asarray(similarity, dtype=float)
    if similarity.shape != (proba.shape[0], neighbour_proba.shape[0]):
        raise ValueError(
            f"similarity is {similarity.shape}, expected "
            f"{(proba.shape[0], neighbour_proba.shape[0])}"
        )
    k = min(k, neighbour_proba.shape[0])
    if k == 0:
        return np.zeros(proba.shape[0])
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    p = np.clip(proba, 1e-9, 1.0)[:, None, :]
    q = np.clip(neighbour_proba, 1e-9, 1.0)[nearest]
    scores: FloatArray = (q * np.log(q / p)).sum(axis=2).mean(axis=1)
    return scores


def contrastive_margin(proba: FloatArray, disagreement: FloatArray) -> FloatArray:
    """Margin uncertainty plus the neighbours' disagreement squeezed into [0, 1) (d / (1 + d)),
    so that both count alike and a chunk's score does not depend on the rest of the pool."""
    disagreement = np.asarray(disagreement, dtype=float)
    return margin_uncertainty(proba) + disagreement / (1.0 + disagreement)


def random_scores(n_items: int, seed: int) -> FloatArray:
    """Uniform random scores: the baseline every strategy is measured against."""
    return np.random.default_rng(seed).random(n_items)


@dataclass(frozen=True)
class Evidence:
    """What a strategy may score by besides the class probabilities. The engine fills in what
    the strategy asks for (Strategy.committee, Strategy.neighbours) and can provide."""

    multi_label: bool = False
    seed: int = 0  # for strategies that draw at random
    votes: IndexArray | None = None  # committee members' predicted classes, (members, items)
    disagreement: FloatArray | None = None  # the labelled neighbours' disagreement, per item


class Strategy:
    """A query strategy: what it needs fitted beside the model, how it scores items (higher:
    more worth a label), and whether the top of its ranking is served one per cluster.

    The shape of scikit-activeml's query strategies and doccano's assignment strategies: a
    new strategy is one subclass and one line in STRATEGIES."""

    name: ClassVar[str]
    title: ClassVar[str]
    committee: ClassVar[bool] = False  # fit a committee of models (bagging) beside the model
    neighbours: ClassVar[bool] = False  # keep the labelled items' rows to compare the pool with
    diverse: ClassVar[bool] = False  # reorder the top batch one per cluster (diverse_batch)

    def score(self, proba: FloatArray, evidence: Evidence) -> FloatArray:
        """One score per row of `proba`, (n_items, n_classes)."""
        raise NotImplementedError


class Uncertainty(Strategy):
    """Scores by one measure of the model's uncertainty; multi-label, by each label's yes/no
    question (multilabel_uncertainty), whatever the measure."""

    # quoted: staticmethod is generic to type checkers only, not at run time
    measure: "ClassVar[staticmethod[[FloatArray], FloatArray]]"

    def score(self, proba: FloatArray, evidence: Evidence) -> FloatArray:
        if evidence.multi_label:
            return multilabel_uncertainty(proba)
        return type(self).measure(proba)


class Margin(Uncertainty):
    name, title = "margin", "Margin"
    measure = staticmethod(margin_uncertainty)


class LeastConfidence(Uncertainty):
    name, title = "least_confidence", "Least confidence"
    measure = staticmethod(least_confidence)


class Entropy(Uncertainty):
    name, title = "entropy", "Entropy"
    measure = staticmethod(entropy)


class Committee(Margin):
    """Vote entropy of a committee fitted on bootstrap samples of the labels; the margin where
    there is no committee (multi-label)."""

    name, title = "committee", "Query by committee (vote entropy)"
    committee = True

    def score(self, proba: FloatArray, evidence: Evidence) -> FloatArray:
        if evidence.votes is None or evidence.multi_label:
            return super().score(proba, evidence)
        return vote_entropy(evidence.votes.astype(int), proba.shape[1])


class DiverseMargin(Margin):
    """The default: the margin plus, where the engine keeps them (text, few labels), the
    labelled neighbours' disagreement (contrastive_margin); its top batch one per cluster."""

    name = "diverse_margin"
    title = (
        "Margin (on text also the labelled neighbours' disagreement), one per cluster of the "
        "top (default)"
    )
    neighbours = True
    diverse = True

    def score(self, proba: FloatArray, evidence: Evidence) -> FloatArray:
        if evidence.disagreement is None or evidence.multi_label:
            return super().score(proba, evidence)
        return contrastive_margin(proba, evidence.disagreement)


class Random(Strategy):
    """Uniform random scores: the baseline every strategy is measured against."""

    name, title = "random", "Random"

    def score(self, proba: FloatArray, evidence: Evidence) -> FloatArray:
        return random_scores(proba.shape[0], evidence.seed)


STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (DiverseMargin(), Margin(), LeastConfidence(), Entropy(), Committee(), Random())
}
DEFAULT = DiverseMargin.name


def get(name: str) -> Strategy:
    """The strategy of that name; an unknown name is an error that lists the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None


def top_k(scores: FloatArray, k: int) -> IndexArray:
    """Indices of the k highest scores, highest first; ties go to the earlier item."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    return order[:k]
