"""Choosing items that are not near-duplicates: the diverse batch on top of a ranking, and the
diverse seeds before the first model (k-means over features projected to few dimensions)."""

from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize
from sklearn.random_projection import SparseRandomProjection

from models_service.ml.arrays import FloatArray, IndexArray
from models_service.ml.features import Matrix
from models_service.ml.strategies import top_k


def diverse_batch(
    scores: FloatArray,
    features: Matrix,
    k: int,
    *,
    pool_factor: int = 5,
    seed: int = 0,
    covered: Matrix | None = None,
) -> IndexArray:
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
    # one projection for both, so that distances compare (`is not None`: said for mypy)
    if n_covered and covered is not None:
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


def compact(features: Matrix, seed: int = 0, dimensions: int = 256) -> Matrix:
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
    texts' 92,000 columns (docs/benchmarks.md, "Small text rounds: work done once, not every
    round")."""
    projection = SparseRandomProjection(dimensions, dense_output=True, random_state=seed)
    return projection.fit(sparse.csr_matrix((1, columns)))


def topics(features: Matrix, seed: int = 0, dimensions: int = 50) -> Matrix:
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


def cold_start(features: Matrix, k: int, *, seed: int = 0) -> IndexArray:
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
