"""Query strategies: how informative each unlabelled item is, higher first.

Every scorer takes class probabilities of shape (n_items, n_classes) (multi-label: the
per-label probability of "yes") and returns one score per item; batch selection breaks ties
by item position, so the same input always gives the same order.
"""

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize
from sklearn.random_projection import SparseRandomProjection

Scorer = Callable[[np.ndarray], np.ndarray]


def _check(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2:
        raise ValueError(f"expected (n_items, n_classes), got shape {proba.shape}")
    return proba


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - p(top class): how far the model is from sure of its own answer."""
    proba = _check(proba)
    return 1.0 - proba.max(axis=1)


def margin_uncertainty(proba: np.ndarray) -> np.ndarray:
    """1 - (p_top1 - p_top2); a one-class model is certain (0)."""
    proba = _check(proba)
    if proba.shape[1] < 2:
        return np.zeros(proba.shape[0])
    top2 = np.sort(proba, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy(proba: np.ndarray) -> np.ndarray:
    """Shannon entropy of the class distribution, in nats."""
    proba = np.clip(_check(proba), 1e-12, 1.0)
    return -(proba * np.log(proba)).sum(axis=1)


def multilabel_uncertainty(proba: np.ndarray) -> np.ndarray:
    """Mean over labels of 1 - |2p - 1|: each label's yes/no is a two-class question."""
    proba = _check(proba)
    return (1.0 - np.abs(2.0 * proba - 1.0)).mean(axis=1)


def vote_entropy(committee_votes: np.ndarray, n_classes: int) -> np.ndarray:
    """Disagreement of a committee: entropy of the vote shares per item.

    `committee_votes` is (n_members, n_items) of predicted class indices.
    """
    votes = np.asarray(committee_votes)
    if votes.ndim != 2:
        raise ValueError(f"expected (n_members, n_items), got shape {votes.shape}")
    shares = np.stack([(votes == c).mean(axis=0) for c in range(n_classes)], axis=1)
    return entropy(shares)


def neighbour_disagreement(
    proba: np.ndarray, neighbour_proba: np.ndarray, similarity: np.ndarray, k: int = 10
) -> np.ndarray:
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
    return (q * np.log(q / p)).sum(axis=2).mean(axis=1)


def contrastive_margin(proba: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """Margin uncertainty plus the neighbours' disagreement squeezed into [0, 1) (d / (1 + d)),
    so that both count alike and a chunk's score does not depend on the rest of the pool."""
    disagreement = np.asarray(disagreement, dtype=float)
    return margin_uncertainty(proba) + disagreement / (1.0 + disagreement)


def random_scores(n_items: int, seed: int) -> np.ndarray:
    """Uniform random scores: the baseline every strategy is measured against."""
    return np.random.default_rng(seed).random(n_items)


SCORERS: dict[str, Scorer] = {
    "least_confidence": least_confidence,
    "margin": margin_uncertainty,
    "entropy": entropy,
    "multilabel_uncertainty": multilabel_uncertainty,
}


def scorer(name: str) -> Scorer:
    """Look a scorer up by name; unknown names are an error that lists the known ones."""
    try:
        return SCORERS[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; known: {', '.join(sorted(SCORERS))}"
        ) from None


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first; ties go to the earlier item."""
    order = np.lexsort((np.arange(len(scores)), -np.asarray(scores)))
    return order[:k]


def diverse_batch(
    scores: np.ndarray, features, k: int, *, pool_factor: int = 5, seed: int = 0, covered=None
) -> np.ndarray:
    """Pick k informative items that are not near-duplicates of each other.

    Takes the k * pool_factor highest-scored candidates, clusters them into k groups by their
    features, and returns the highest-scored item of each group (highest first), so that
    annotators working in parallel do not all get the same kind of item.

    `covered` holds the features of items someone is labelling already (held by another
    annotator, or answered after the model was trained): groups nearest one of them come last,
    since a label there would mostly repeat what that answer is about to teach.
    """
    candidates = top_k(scores, min(len(scores), k * pool_factor))
    if len(candidates) <= k:
        return candidates
    rows = features[candidates]
    n_covered = 0 if covered is None else covered.shape[0]
    if n_covered:  # one projection for both, so that distances compare
        stacked = (
            sparse.vstack([rows, covered], format="csr")
            if sparse.issparse(rows)
            else np.vstack([rows, covered])
        )
        rows = compact(stacked, seed)
        rows, covered = rows[: len(candidates)], rows[len(candidates) :]
    else:
        rows = compact(rows, seed)
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(rows)
    clusters = kmeans.labels_
    taken = set(kmeans.predict(covered).tolist()) if n_covered else set()
    # candidates are in score order, so each cluster's first member is its best
    best = {c: int(candidates[clusters == c][0]) for c in range(k) if np.any(clusters == c)}
    order = sorted(best, key=lambda c: (c in taken, -scores[best[c]], best[c]))
    return np.asarray([best[c] for c in order])


def compact(features, seed: int = 0, dimensions: int = 256):
    """Wide (text) features projected at random to a few dozen dimensions before clustering
    (distances are roughly kept): k-means keeps dense centres, which on 100,000 sparse TF-IDF
    columns made one batch take seconds."""
    if features.shape[1] <= dimensions or features.shape[0] <= dimensions:
        return features
    return _projection(features.shape[1], dimensions, seed).transform(features)


@lru_cache(maxsize=4)
def _projection(columns: int, dimensions: int, seed: int) -> SparseRandomProjection:
    """The random projection of `columns` columns, drawn once per process: its matrix depends
    only on these three numbers, and drawing it took 0.22 s of every round on the shipped
    texts' 92,000 columns (docs/benchmarks.md, "Fifteenth run")."""
    projection = SparseRandomProjection(dimensions, dense_output=True, random_state=seed)
    return projection.fit(sparse.csr_matrix((1, columns)))


def topics(features, seed: int = 0, dimensions: int = 50):
    """Wide (text) features reduced to their main directions (truncated SVD, rows at unit
    length) for choosing seeds: a random projection keeps distances only roughly, and on the
    shipped texts seeds chosen in one trained first models to 0.33 accuracy where seeds
    chosen in these 50 directions reached 0.42 (10 splits). Slower than compact (1.5 s on
    1,790 texts), so used once per project, not every round. Columns no item uses are dropped
    first: a hashing featurizer's million columns made the SVD take 18 s on 5,000 texts."""
    if features.shape[1] <= 256 or features.shape[0] <= dimensions:
        return features
    if sparse.issparse(features):
        features = sparse.csr_matrix(features)
        features = features[:, np.unique(features.indices)]
    return normalize(TruncatedSVD(dimensions, random_state=seed).fit_transform(features))


def cold_start(features, k: int, *, seed: int = 0) -> np.ndarray:
    """Before any model: k diverse seed items, the one nearest each k-means centre.

    A first batch chosen this way covers the pool instead of one corner of it, which is what
    keeps the first model from being worse than a random seed.
    """
    n = features.shape[0]
    if n <= k:
        return np.arange(n)
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(features)
    distances = model.transform(features)
    chosen: list[int] = []
    for centre in range(k):
        for index in np.argsort(distances[:, centre], kind="stable"):
            if index not in chosen:
                chosen.append(int(index))
                break
    return np.asarray(chosen)
