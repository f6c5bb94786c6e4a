"""Featurizers: items' data to a feature matrix.

Text goes through TF-IDF (word and character n-grams, plus the pool's main directions in
them) or, for large pools, a hashing featurizer that needs no vocabulary; items that carry a
client-provided `features` vector (embeddings of images, audio, tabular rows) use it as it is,
so any modality works.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, Self, TypeAlias, overload

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import normalize

from models_service.ml.arrays import FloatArray, IndexArray

TOPIC_DIMENSIONS = 100  # main directions of the pool added to TF-IDF's columns

# An item's data as the platform stores it: "text", or a client's "features" vector.
ItemData: TypeAlias = Mapping[str, Any]
# Feature rows: the items' own vectors (dense), or a featurizer's sparse rows. SciPy ships no
# types, so mypy reads the sparse half as Any and checks only what the dense half allows.
Matrix: TypeAlias = FloatArray | sparse.csr_matrix


class Featurizer(Protocol):
    """What the platform asks of a featurizer (WithTopics, the hashing pipeline, the n-grams
    inside WithTopics): scikit-learn's transformer methods, texts in, sparse rows out."""

    def fit(self, texts: list[str]) -> Self: ...

    def fit_transform(self, texts: list[str]) -> sparse.csr_matrix: ...

    def transform(self, texts: list[str]) -> sparse.csr_matrix: ...


def topic_weight(n_labels: int) -> float:
    """How much a model trained on `n_labels` labels weighs the pool's directions against the
    TF-IDF columns: 2.0 up to 50 labels, then falling as 1/sqrt(n) to 0.5 from 800 on.

    Why: on a few labels the directions generalize where single words only memorize; on many,
    a large weight cost a point of full-pool accuracy (docs/benchmarks.md, "Topic directions in
    text features")."""
    return float(np.clip(2.0 * np.sqrt(50 / max(n_labels, 1)), 0.5, 2.0))


def topic_columns(featurizer: Featurizer | None) -> int:
    """How many of the featurizer's last columns are the pool's directions (0: none)."""
    svd = getattr(featurizer, "svd_", None)
    return 0 if svd is None else 2 * int(svd.n_components)


def weigh_topics(X: Matrix, columns: int, weight: float) -> Matrix:
    """X with its last `columns` columns (the pool's directions) multiplied by `weight`."""
    if not columns or weight == 1.0:
        return X
    scale = np.ones(X.shape[1])
    scale[-columns:] = weight
    return sparse.csr_matrix(X @ sparse.diags(scale))


def tfidf(*, max_features: int = 50_000) -> "WithTopics":
    """Word 1-2-grams and character 3-5-grams within words, sublinear TF, and the pool's main
    directions in them (see WithTopics)."""
    return WithTopics(ngrams(max_features=max_features))


def ngrams(*, max_features: int = 50_000) -> FeatureUnion:
    """Word 1-2-grams and character 3-5-grams within words, sublinear TF."""
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=max_features
                ),
            ),
            (
                "chars",
                OptionalTerms(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    sublinear_tf=True,
                    min_df=2,
                    max_features=max_features,
                ),
            ),
        ]
    )


def hashing(*, n_features: int = 2**20) -> Pipeline:
    """Stateless word 1-2-gram hashing with TF-IDF weights: no vocabulary to hold or fit twice."""
    return make_pipeline(
        HashingVectorizer(
            ngram_range=(1, 2), n_features=n_features, alternate_sign=False, norm=None
        ),
        TfidfTransformer(sublinear_tf=True),
    )


class NoTerms(ValueError):
    """The texts leave the featurizer no word to learn from: every one is empty, punctuation or
    single letters (a word is two letters or more)."""

    def __init__(self) -> None:
        super().__init__("the texts have no words the model can use (two letters or more)")


# scikit-learn ships no types: its base classes are Any to mypy
class OptionalTerms(TfidfVectorizer):  # type: ignore[misc]
    """TF-IDF columns for the terms the texts have, and none (rather than scikit-learn's error)
    when its pruning leaves no term: a pool of a few short texts shares no character n-gram
    twice (min_df), and its seeding and first round failed, though its words were enough."""

    def fit(self, raw_documents: list[str], y: object = None) -> Self:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: list[str], y: object = None) -> sparse.csr_matrix:
        try:
            return super().fit_transform(raw_documents, y)
        except ValueError:  # no terms, or a min_df more texts than there are
            self.vocabulary_: dict[str, int] = {}
            return sparse.csr_matrix((len(raw_documents), 0))

    def transform(self, raw_documents: list[str]) -> sparse.csr_matrix:
        if getattr(self, "vocabulary_", None) == {}:
            return sparse.csr_matrix((len(raw_documents), 0))
        return super().transform(raw_documents)


# scikit-learn ships no types: its base classes are Any to mypy
class WithTopics(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A sparse featurizer's columns, plus the rows' coordinates along the main directions of
    the texts it was fitted on (truncated SVD, rows at unit length, times `weight`; the model
    weighs them again by its labelled set's size, see topic_weight).

    Why: the directions come from the unlabelled pool, so a model trained on a few dozen
    labels already knows which words go together, and active learning's early rounds pay
    more (docs/benchmarks.md, "Topic directions in text features"). Not added to the hashing
    featurizer: large pools keep their scoring speed.
    """

    def __init__(
        self, base: Featurizer, dimensions: int = TOPIC_DIMENSIONS, weight: float = 1.0
    ) -> None:
        self.base = base
        self.dimensions = dimensions
        self.weight = weight

    def fit(self, texts: list[str], y: object = None) -> Self:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: list[str], y: object = None) -> sparse.csr_matrix:
        try:
            X = self.base.fit_transform(texts)
        except ValueError as error:  # scikit-learn's "empty vocabulary": not a word anywhere
            raise NoTerms() from error
        # fewer directions than rows and columns: a tiny sample gets what it can hold
        dimensions = min(self.dimensions, X.shape[0] - 1, X.shape[1] - 1)
        self.svd_ = None
        if dimensions >= 1:
            # two power iterations: directions to featurize by, not an exact decomposition
            # (6.7 s against 15 s with the default five on 5,000 texts)
            self.svd_ = TruncatedSVD(dimensions, n_iter=2, random_state=0).fit(X)
        return self._with_topics(X)

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        return self._with_topics(self.base.transform(texts))

    def _with_topics(self, X: sparse.csr_matrix) -> sparse.csr_matrix:
        if self.svd_ is None:
            return sparse.csr_matrix(X)
        topics = normalize(self.svd_.transform(X)) * self.weight
        # each direction as its positive and its negative part: complement naive Bayes takes
        # no negative features, and a linear model loses nothing by the split
        parts = np.hstack([np.maximum(topics, 0), np.maximum(-topics, 0)])
        return sparse.hstack([X, sparse.csr_matrix(parts)], format="csr")


FEATURIZERS: dict[str, Callable[[], Featurizer]] = {"tfidf": tfidf, "hashing": hashing}


def texts_of(items: Sequence[ItemData]) -> list[str]:
    """Each item's text ("" where it has none: the featurizers take strings only)."""
    return ["" if item.get("text") is None else str(item["text"]) for item in items]


def vectors_of(items: Sequence[ItemData]) -> FloatArray | None:
    """The items' own `features` vectors as a matrix, or None unless every item has one of
    the same length."""
    if not items or any(item.get("features") is None for item in items):
        return None
    vectors = [item["features"] for item in items]
    if len({len(v) for v in vectors}) != 1:
        raise ValueError("the items' feature vectors have different lengths")
    return np.asarray(vectors, dtype=float)


def fit_transform(name: str, items: Sequence[ItemData]) -> tuple[Featurizer | None, Matrix]:
    """Fit the named featurizer on the items (or use their vectors); return (featurizer, X).

    The featurizer is None when the items brought their own vectors.
    """
    vectors = vectors_of(items)
    if vectors is not None:
        return None, vectors
    featurizer = FEATURIZERS[name]()
    return featurizer, featurizer.fit_transform(texts_of(items))


def fit(name: str, items: Sequence[ItemData]) -> Featurizer | None:
    """Fit the named featurizer on the items' texts (no labels needed: the platform fits it on
    a sample of the whole pool); None when the items bring their own vectors."""
    if vectors_of(items) is not None:
        return None
    featurizer = FEATURIZERS[name]()
    featurizer.fit(texts_of(items))
    return featurizer


@overload
def transform(featurizer: None, items: Sequence[ItemData]) -> FloatArray: ...
@overload
def transform(featurizer: Featurizer, items: Sequence[ItemData]) -> sparse.csr_matrix: ...
def transform(featurizer: Featurizer | None, items: Sequence[ItemData]) -> Matrix:
    """Features of new items with a fitted featurizer (None: the items' own vectors)."""
    if featurizer is None:
        vectors = vectors_of(items)
        if vectors is None:
            raise ValueError("this model was trained on feature vectors; some items have none")
        return vectors
    return featurizer.transform(texts_of(items))


class RowCache:
    """Featurized items kept by id in one worker process, so that a small pool scored round
    after round has each text featurized once, not on every round (character n-grams are most
    of a small project's round). Valid while the featurizer is: it is fixed as long as the
    pool sample is, and an item's data never changes. One featurizer at a time (another key
    empties the cache); at most `capacity` rows, past which items are featurized as before.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.key: tuple[object, ...] | None = None
        self._where: dict[int, tuple[int, int]] = {}  # item id -> (block, row in block)
        self._blocks: list[sparse.csr_matrix] = []

    def features(
        self,
        key: tuple[object, ...] | None,
        featurizer: Featurizer | None,
        ids: Sequence[int],
        items: Sequence[ItemData],
    ) -> Matrix:
        """The items' features, as transform(featurizer, items) would give them."""
        if featurizer is None or key is None:
            return transform(featurizer, items)  # the items' own vectors: nothing to save
        if key != self.key:
            self.key, self._where, self._blocks = key, {}, []
        missing = [k for k, item_id in enumerate(ids) if item_id not in self._where]
        if len(self._where) + len(missing) > self.capacity:
            return transform(featurizer, items)
        if missing:
            block = len(self._blocks)
            self._blocks.append(transform(featurizer, [items[k] for k in missing]).tocsr())
            for row, k in enumerate(missing):
                self._where[ids[k]] = (block, row)
        return self._gather(ids)

    def _gather(self, ids: Sequence[int]) -> sparse.csr_matrix:
        located = np.asarray([self._where[item_id] for item_id in ids]).reshape(-1, 2)
        pieces: list[sparse.csr_matrix] = []
        placed: list[IndexArray] = []
        for block in np.unique(located[:, 0]):
            positions = np.flatnonzero(located[:, 0] == block)
            pieces.append(self._blocks[block][located[positions, 1]])
            placed.append(positions)
        stacked = sparse.vstack(pieces, format="csr") if len(pieces) > 1 else pieces[0]
        return stacked[np.argsort(np.concatenate(placed), kind="stable")]
