"""Label-error detection in the pure ML core (models_service.ml.label_errors), without Django:
the flipped labels rank first, and only from out-of-sample probabilities."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from models_service.ml import label_errors
from models_service.ml.estimators import make_estimator


def clusters(per_class: int, classes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points around one far-apart centre per class: any model tells them apart."""
    rng = np.random.default_rng(seed)
    y = np.repeat(classes, per_class)
    centres = {c: rng.normal(0, 10, 5) for c in classes}
    X = np.stack([centres[c] for c in y]) + rng.normal(0, 1, (len(y), 5))
    return X, y


def flip(y: np.ndarray, how_many: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, flipped rows): each flipped row moved to the next class present."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(y), how_many, replace=False))
    present = np.unique(y)
    noisy = y.copy()
    noisy[rows] = present[(np.searchsorted(present, y[rows]) + 1) % len(present)]
    return noisy, rows


def test_the_flipped_labels_rank_first_with_the_true_class_suggested():
    X, y = clusters(50, [0, 2, 3])  # class 1 never labelled: indices stay the project's
    noisy, flipped = flip(y, 12)

    found = label_errors.find(make_estimator("logistic_regression"), X, noisy, seed=0)

    assert set(found.rows[:12]) == set(flipped)
    assert list(found.suggested[:12]) == list(y[found.rows[:12]])
    assert np.all(np.diff(found.self_confidence) >= 0)  # ranked by self-confidence
    assert np.allclose(found.self_confidence[:12], 0, atol=0.2)


class Memorising(ClassifierMixin, BaseEstimator):
    """Remembers each training row's label and gives it back for sure; a row it has not seen
    gets the class of the nearest class centre."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.seen_ = {
            row.tobytes(): np.searchsorted(self.classes_, label)
            for row, label in zip(X, y, strict=True)
        }
        self.centres_ = np.stack([X[y == label].mean(axis=0) for label in self.classes_])
        return self

    def predict_proba(self, X):
        nearest = ((X[:, None, :] - self.centres_[None]) ** 2).sum(axis=2).argmin(axis=1)
        columns = [
            self.seen_.get(row.tobytes(), guess) for row, guess in zip(X, nearest, strict=True)
        ]
        return np.eye(len(self.classes_))[columns]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def test_a_memorising_model_reveals_the_flips_only_out_of_sample():
    """Asked about its own training rows, a memorising model is sure of each given label,
    wrong ones too, and nothing looks wrong. Every flip is found, with self-confidence 0: no
    row's probabilities came from a model that saw the row."""
    X, y = clusters(40, [0, 1, 2])
    noisy, flipped = flip(y, 9)

    in_sample = Memorising().fit(X, noisy).predict_proba(X)
    assert np.all(in_sample[np.arange(len(y)), noisy] == 1.0)  # no signal in sample

    found = label_errors.find(Memorising(), X, noisy, seed=0)

    assert set(found.rows) == set(flipped)
    assert np.all(found.self_confidence == 0.0)


FITTED_ON: list[set[int]] = []
ASKED_BY: list[tuple[int, set[int]]] = []


class Spy(ClassifierMixin, BaseEstimator):
    """Notes which rows (column 0 holds each row's number) each fit saw and was asked about."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fit_number_ = len(FITTED_ON)
        FITTED_ON.append(set(X[:, 0].astype(int)))
        return self

    def predict_proba(self, X):
        ASKED_BY.append((self.fit_number_, set(X[:, 0].astype(int))))
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_every_row_is_asked_once_of_a_model_never_fitted_on_it():
    y = np.repeat([0, 1, 2], 30)
    X = np.column_stack([np.arange(len(y)), np.zeros(len(y))])
    FITTED_ON.clear()
    ASKED_BY.clear()

    proba = label_errors.out_of_sample_proba(Spy(), X, y, seed=0)

    assert proba.shape == (90, 3)
    assert len(FITTED_ON) == label_errors.FOLDS
    asked: list[int] = []
    for fit_number, rows in ASKED_BY:
        assert not rows & FITTED_ON[fit_number]
        asked.extend(rows)
    assert sorted(asked) == list(range(90))


def test_a_class_rarer_than_the_folds_is_neither_checked_nor_flagged():
    """Two members cannot be stratified into three folds, and a model that barely saw the class
    would call them wrong for being rare."""
    X, y = clusters(30, [0, 1])
    X = np.vstack([X, X[:2]])  # the rare class's two members look like class 0's
    y = np.concatenate([y, [2, 2]])

    found = label_errors.find(make_estimator("logistic_regression"), X, y, seed=0)

    assert set(label_errors.checkable(y)) == set(range(60))
    assert not {60, 61} & set(found.rows)
    assert 2 not in found.suggested


def test_too_few_labels_or_one_class_to_check_find_nothing():
    X, y = clusters(9, [0, 1])
    estimator = make_estimator("logistic_regression")

    assert len(label_errors.find(estimator, X[:18], y[:18], seed=0)) == 0  # under MIN_ROWS
    one_class = np.concatenate([np.zeros(30, dtype=int), [1, 1]])
    X, _ = clusters(32, [0])
    assert len(label_errors.find(estimator, X, one_class, seed=0)) == 0
