"""One model round in pure Python: consensus labels in, a fitted bundle out, and the bundle
scoring any batch of items. The Django side (models_service.rounds) only moves rows.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from scipy import sparse
from sklearn.ensemble import BaggingClassifier
from sklearn.preprocessing import normalize

from models_service.ml import diversity, estimators, features, metrics, strategies
from models_service.ml.arrays import BoolArray, FloatArray, IndexArray
from models_service.ml.estimators import make_estimator
from models_service.ml.features import Featurizer, ItemData, Matrix

COMMITTEE_SIZE = 5
LARGE_POOL = 200_000  # above this, hash words instead of fitting word and character n-grams
# Self-training (fit_model): while the labelled set is small, the model is fitted again with
# this many of its own most confident guesses on unlabelled items per label, each weighing this
# much of a human label (docs/benchmarks.md, "Self-training on text").
GUESSES_PER_LABEL = 5
GUESS_WEIGHT = 0.3
SELF_TRAINING_BELOW = 2_000  # labels: from here on the guesses add time, not accuracy
# The default strategy on text adds the labelled neighbours' disagreement while the labels are
# fewer than this (uses_neighbours): measured to 320 labels, and its cost grows with them.
NEIGHBOURS_BELOW = 500
NEIGHBOUR_BLOCK = 1_024  # items compared with the labelled ones at a time (memory: block x labels)

# Training targets: class indices, or indicator rows (one 0/1 per class) when multi-label.
Targets: TypeAlias = Sequence[int] | Sequence[IndexArray]
# Predictions: class indices, or indicator rows when multi-label.
Predicted: TypeAlias = IndexArray | BoolArray


@dataclass
class Bundle:
    """Everything a worker needs to score items: written by the platform, never uploaded."""

    featurizer: Featurizer | None  # None: the items bring their own vectors
    model: Any  # a fitted scikit-learn classifier (one-vs-rest when multi-label): untyped
    committee: "list[_Member] | None"
    classes: list[str]
    multi_label: bool
    strategy: str
    metrics: dict[str, object] = field(default_factory=dict)
    cv_metrics: dict[str, object] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    featurizer_key: tuple[object, ...] | None = None  # names the featurizer for a RowCache
    featurizer_file: str | None = None  # where the platform stored the featurizer apart
    topic_columns: int = 0  # the featurizer's last columns that are the pool's directions
    topic_weight: float = 1.0  # their weight in this model (features.topic_weight)
    # the default strategy on text while labels are few (uses_neighbours): the labelled items'
    # rows and the model's probabilities on them
    neighbours: Matrix | None = None
    neighbour_proba: FloatArray | None = None

    def model_input(self, X: Matrix) -> Matrix:
        """The featurizer's rows as this model reads them (its weight on the directions)."""
        return features.weigh_topics(X, self.topic_columns, self.topic_weight)

    def proba(self, X: Matrix) -> FloatArray:
        """Class probabilities over all of the project's classes (unseen ones get 0)."""
        X = self.model_input(X)
        if self.multi_label:
            return _ovr_proba(self.model, X, len(self.classes))
        raw = self.model.predict_proba(X)
        full = np.zeros((X.shape[0], len(self.classes)))
        full[:, self.model.classes_.astype(int)] = raw
        return full

    def features(self, items: Sequence[ItemData]) -> Matrix:
        return features.transform(self.featurizer, items)

    def score(
        self, items: Sequence[ItemData], *, seed: int = 0
    ) -> tuple[FloatArray, Predicted, FloatArray]:
        """(scores, predicted class indices or indicator rows, confidences) for the items."""
        return self.score_features(self.features(items), seed=seed)

    def score_features(
        self, X: Matrix, *, seed: int = 0
    ) -> tuple[FloatArray, Predicted, FloatArray]:
        """The same as score, for items already featurized."""
        scores, proba = self.score_proba(X, seed=seed)
        predicted, confidence = self.predictions(proba)
        return scores, predicted, confidence

    def score_proba(self, X: Matrix, *, seed: int = 0) -> tuple[FloatArray, FloatArray]:
        """(scores, class probabilities) for items already featurized: for a caller that wants
        more of the probabilities than the prediction (top_classes) without a second pass."""
        proba = self.proba(X)
        return self._scores(X, proba, seed), proba

    def predictions(self, proba: FloatArray) -> tuple[Predicted, FloatArray]:
        """(predicted class indices or indicator rows, confidences) from probabilities."""
        if self.multi_label:
            return proba >= 0.5, np.abs(2 * proba - 1).mean(axis=1) / 2 + 0.5
        return proba.argmax(axis=1), proba.max(axis=1)

    def _scores(self, X: Matrix, proba: FloatArray, seed: int) -> FloatArray:
        """The strategy's scores, given what it asks for and this bundle holds."""
        strategy = strategies.get(self.strategy)
        votes: IndexArray | None = None
        disagreement: FloatArray | None = None
        if strategy.committee and self.committee:
            X_in = self.model_input(X)
            votes = np.stack([member.predict(X_in) for member in self.committee], axis=0)
        # neighbour_proba is set with neighbours: tested too for mypy
        if strategy.neighbours and self.neighbours is not None and self.neighbour_proba is not None:
            disagreement = neighbour_disagreement(X, proba, self.neighbours, self.neighbour_proba)
        evidence = strategies.Evidence(
            multi_label=self.multi_label, seed=seed, votes=votes, disagreement=disagreement
        )
        return strategy.score(proba, evidence)


def top_classes(proba: FloatArray, k: int) -> tuple[IndexArray, FloatArray]:
    """The k most probable classes of each row of an (n_items, n_classes) matrix, most
    probable first, and their probabilities: two (n_items, min(k, n_classes)) arrays. Ties go
    to the lower class index, as argmax breaks them, so the first is always the prediction."""
    if proba.ndim != 2:
        raise ValueError(f"expected (n_items, n_classes), got shape {proba.shape}")
    order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(proba, order, axis=1)


def neighbour_disagreement(
    X: Matrix, proba: FloatArray, neighbours: Matrix, neighbour_proba: FloatArray
) -> FloatArray:
    """strategies.neighbour_disagreement for the rows of X (a featurizer's rows) against the
    labelled items' rows `neighbours`, by cosine similarity, a block at a time."""
    rows, neighbours = normalize(X), normalize(neighbours)
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], NEIGHBOUR_BLOCK):
        block = slice(start, start + NEIGHBOUR_BLOCK)
        similarity = rows[block] @ neighbours.T
        similarity = similarity.toarray() if sparse.issparse(similarity) else similarity
        out[block] = strategies.neighbour_disagreement(proba[block], neighbour_proba, similarity)
    return out


def featurizer_for(pool_size: int) -> str:
    """TF-IDF with character n-grams where the pool is small enough to afford it, else hashing
    (no vocabulary, ten times faster to apply)."""
    return "hashing" if pool_size > LARGE_POOL else "tfidf"


def _ovr_proba(model: Any, X: Matrix, n_classes: int) -> FloatArray:
    """A one-vs-rest model's per-label probability of "yes", as (n_items, n_classes)."""
    proba = model.predict_proba(X)
    return np.asarray(proba).reshape(X.shape[0], n_classes)


def train(
    train_items: Sequence[ItemData],
    train_targets: Targets,
    *,
    classes: list[str],
    multi_label: bool,
    model_name: str,
    strategy: str,
    pool_size: int,
    eval_items: Sequence[ItemData] = (),
    eval_targets: Targets = (),
    featurizer: Featurizer | None = None,
    seed: int = 0,
    cross_validate: bool = True,
    unlabelled: Matrix | None = None,
    rows: Matrix | None = None,
) -> Bundle:
    """Fit the featurizer on the training items (unless one fitted on a sample of the pool is
    given), the model on the training labels; measure on the evaluation sample (unbiased) and,
    unless told not to (the platform does it after the round), by cross-validation on the
    training labels (biased, reported apart). `unlabelled`: features of unlabelled items
    (under `featurizer`) for the model to self-train on (fit_model). `rows`: the training
    items' features under `featurizer`, where the caller has them already."""
    started = time.perf_counter()
    if featurizer is None:
        featurizer = features.fit(featurizer_for(pool_size), train_items)
    columns = features.topic_columns(featurizer)
    weight = features.topic_weight(len(train_items))
    if rows is None:
        rows = features.transform(featurizer, train_items)
    X = features.weigh_topics(rows, columns, weight)
    y = np.asarray(train_targets)
    featurized = time.perf_counter()
    if unlabelled is not None:
        unlabelled = features.weigh_topics(unlabelled, columns, weight)
    model = fit_model(model_name, X, y, multi_label=multi_label, seed=seed, unlabelled=unlabelled)
    fitted = time.perf_counter()
    committee = None
    wants = strategies.get(strategy)
    if wants.committee and not multi_label:
        # members unweighted: a bootstrap sample that misses a class gives that class weight
        # 0 / 0 under balanced weights, and the member's fit fails on NaN
        bagging = BaggingClassifier(
            make_estimator(model_name, seed=seed, balanced=False),
            n_estimators=COMMITTEE_SIZE,
            random_state=seed,
        ).fit(X, y)
        committee = list(_committee_members(bagging))
    bundle = Bundle(featurizer, model, committee, list(classes), multi_label, strategy)
    bundle.topic_columns, bundle.topic_weight = columns, weight
    if wants.neighbours and uses_neighbours(
        len(y), multi_label=multi_label, sparse_features=sparse.issparse(rows)
    ):
        bundle.neighbours = rows
        bundle.neighbour_proba = bundle.proba(rows)
    if len(eval_items):
        proba = bundle.proba(bundle.features(eval_items))
        bundle.metrics = metrics.metrics(
            np.asarray(eval_targets), proba, list(classes), multi_label
        )
    if cross_validate:
        bundle.cv_metrics = metrics.cross_validated(model_name, X, y, classes, multi_label, seed)
    bundle.timings = {
        "featurize_s": round(featurized - started, 3),
        "fit_s": round(fitted - featurized, 3),
        "evaluate_s": round(time.perf_counter() - fitted, 3),
    }
    return bundle


def fit_model(
    model_name: str,
    X: Matrix,
    y: IndexArray,
    *,
    multi_label: bool = False,
    seed: int = 0,
    unlabelled: Matrix | None = None,
) -> Any:
    """The project's estimator fitted on the labels and, where self_trains says so, fitted
    again with its own most confident guesses on `unlabelled` rows added at a lower weight
    (confident_guesses).

    Why: on a few hundred labels the guesses carry what the pool knows about each class into
    the model; on the shipped texts they were worth 1-2 points of accuracy from 30 to 300
    random labels (docs/benchmarks.md, "Self-training on text")."""
    model = make_estimator(model_name, multi_label=multi_label, seed=seed).fit(X, y)
    if unlabelled is None or not unlabelled.shape[0]:
        return model
    if not self_trains(len(y), multi_label=multi_label, sparse_features=sparse.issparse(X)):
        return model
    rows, guesses = confident_guesses(
        model.predict_proba(unlabelled), model.classes_, y, GUESSES_PER_LABEL * len(y)
    )
    if not len(rows):
        return model
    weights = np.concatenate([np.ones(len(y)), np.full(len(rows), GUESS_WEIGHT)])
    return make_estimator(model_name, seed=seed).fit(
        sparse.vstack([X, unlabelled[rows]], format="csr"),
        np.concatenate([y, guesses]),
        sample_weight=weights,
    )


def self_trains(n_labels: int, *, multi_label: bool, sparse_features: bool) -> bool:
    """Whether fit_model adds guesses on unlabelled rows: for single-label models on sparse
    features (text's words and n-grams) while the labels are few.

    Why not on a client's dense vectors: there every label already informs every column, so
    the guesses only pull the model towards what it believes; on the digits they cost labels
    (platform 72 -> 84 to the mark, docs/benchmarks.md, "Self-training on text"). Words, by
    contrast, are mostly absent from a few hundred labelled texts, and the guesses teach them.
    """
    return sparse_features and not multi_label and 0 < n_labels < SELF_TRAINING_BELOW


def uses_neighbours(n_labels: int, *, multi_label: bool, sparse_features: bool) -> bool:
    """Whether the default strategy adds the labelled neighbours' disagreement to the margin
    (strategies.contrastive_margin): on text (sparse features), single-label, while fewer than
    NEIGHBOURS_BELOW items are labelled.

    Why: on the shipped texts it took the core from 174 to 152 labels to the mark (20 seeds);
    on the digits' dense vectors it cost labels (66 -> 83; docs/benchmarks.md, "The labelled
    neighbours' disagreement on text"). Why the limit: every item is compared with every
    label (on the shipped texts' TF-IDF rows 0.07 ms per item at 200 labels, 0.19 ms at 499),
    and more labels were not measured."""
    return sparse_features and not multi_label and 0 < n_labels < NEIGHBOURS_BELOW


def confident_guesses(
    proba: FloatArray, classes: IndexArray, y: IndexArray, how_many: int
) -> tuple[IndexArray, IndexArray]:
    """(rows, guessed classes): about `how_many` unlabelled rows the model is surest of, shared
    among the classes as the labels are (at least one each), so that the guesses do not all
    reinforce the class the model already knows best."""
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    chosen: list[IndexArray] = []
    for column, label in enumerate(classes):
        mine = np.flatnonzero(predicted == column)
        share = max(1, int(how_many * np.mean(y == label)))
        chosen.append(mine[np.argsort(-confidence[mine], kind="stable")[:share]])
    rows = np.concatenate(chosen).astype(int)
    return rows, np.asarray(classes)[predicted[rows]]


class _Member:
    """A committee member that predicts in the project's class indices."""

    def __init__(self, estimator: Any, classes: IndexArray) -> None:
        self.estimator, self.classes = estimator, classes

    def predict(self, X: Matrix) -> IndexArray:
        predicted: IndexArray = self.classes[self.estimator.predict(X).astype(int)]
        return predicted


def _committee_members(bagging: Any) -> Iterator[_Member]:
    for estimator, columns in zip(bagging.estimators_, bagging.estimators_features_, strict=True):
        if len(columns) != bagging.n_features_in_:
            raise ValueError("committee members must see every feature")
        yield _Member(estimator, np.asarray(bagging.classes_))


def can_adapt(model_name: str) -> bool:
    """Whether a project's estimator learns incrementally (partial_fit) between rounds."""
    return estimators.get(model_name).adapts


def adapt(bundle: Bundle, items: Sequence[ItemData], targets: Targets) -> int:
    """Fit the bundle's model further on new labelled items (one partial_fit pass); return how
    many it learned from. Classes the model has never seen wait for the next full round, and
    the committee (if any) is left as it is."""
    model = bundle.model
    if not items or not hasattr(model, "partial_fit"):
        return 0
    y = np.asarray(targets)
    if bundle.multi_label:
        if not all(hasattr(member, "partial_fit") for member in model.estimators_):
            return 0  # a label never seen yes and no is a constant: it waits for the round
        keep = np.ones(len(y), dtype=bool)
    else:
        keep = np.isin(y, model.classes_)
    if not keep.any():
        return 0
    X = bundle.features([item for item, kept in zip(items, keep, strict=True) if kept])
    model.partial_fit(bundle.model_input(X), y[keep])
    if bundle.neighbours is not None:  # the neighbours' guesses are the model's: refresh them
        bundle.neighbour_proba = bundle.proba(bundle.neighbours)
    return int(keep.sum())


def diverse_order(
    X: Matrix, scores: FloatArray, k: int, covered: Matrix | None = None
) -> IndexArray:
    """Row indices of X (the top candidates' features) to serve first: one per cluster, those
    near `covered` items (being labelled already) last."""
    if X.shape[0] <= k:
        return np.argsort(-scores, kind="stable")
    pool_factor = max(1, X.shape[0] // k)
    return diversity.diverse_batch(scores, X, k, pool_factor=pool_factor, covered=covered)
