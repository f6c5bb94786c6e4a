"""Likely label errors by confident learning (cleanlab) on out-of-sample probabilities.

Why out of sample: a model asked about its own training rows has learned their labels, wrong
ones included, so it agrees with them (a memorising one always does). Each row's probabilities
come from a model fitted on the other folds only (cross_val_predict).

Single-label only: cleanlab's multi-label ranking reads one yes/no per label, and the
platform's one-vs-rest models would need folds per label; multi-label projects are skipped.
cleanlab (and the pandas it loads, a second at import) is imported when asked, so neither
the web process nor a worker that never cleans pays for it.
"""

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from models_service.ml.arrays import FloatArray, IndexArray
from models_service.ml.features import Matrix

# Three folds, as the round's cross-validation: with 10% of the labels flipped, five folds
# (cleanlab's usual advice) found as many of them (precision at N 0.83 against 0.83 on the
# digits, 0.83 against 0.82 on the texts, 5 seeds; bench/bench_label_errors.py) for twice the
# fitting (five fits on 80% of the rows against three on 67%).
FOLDS = 3
MIN_ROWS = 20  # fewer labels say nothing about which of them are wrong


@dataclass(frozen=True)
class Suspects:
    """Rows whose given label is likely wrong, most suspicious first: their positions in the
    labels given, the out-of-sample probability of the given label (self-confidence: low is
    suspicious) and the class the model reads instead (class indices, as given)."""

    rows: IndexArray
    self_confidence: FloatArray
    suggested: IndexArray

    def __len__(self) -> int:
        return len(self.rows)


NONE = Suspects(np.zeros(0, dtype=np.intp), np.zeros(0), np.zeros(0, dtype=np.intp))


def checkable(y: IndexArray, folds: int = FOLDS) -> IndexArray:
    """Positions of the rows whose class has at least `folds` members: only these are
    cross-validated. A rarer class cannot be stratified into every fold, and a member held
    out with its class's few others would be judged by a model that barely (or never) saw the
    class: it would look wrong for being rare. Such rows are neither checked nor trained on."""
    counts = np.bincount(y)
    return np.flatnonzero(counts[y] >= folds)


def out_of_sample_proba(
    estimator: Any, X: Matrix, y: IndexArray, *, seed: int, folds: int = FOLDS
) -> FloatArray:
    """Each row's class probabilities from `estimator` (unfitted; cloned per fold) fitted on
    the other folds only: (n_rows, n_classes present in y), columns in the order of
    np.unique(y). Stratified folds, shuffled by `seed`; every class needs `folds` members
    (see checkable)."""
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # saga's convergence warnings, which the round's own fits accept too
        warnings.simplefilter("ignore")
        proba: FloatArray = cross_val_predict(estimator, X, y, cv=splitter, method="predict_proba")
    return proba


def find(estimator: Any, X: Matrix, y: IndexArray, *, seed: int, folds: int = FOLDS) -> Suspects:
    """The rows of X (features) whose label in y (class indices) confident learning finds
    likely wrong, ranked by self-confidence (cleanlab's find_label_issues), from `estimator`'s
    out-of-sample probabilities. None when fewer than MIN_ROWS rows, or two classes, can be
    checked (see checkable)."""
    rows = checkable(y, folds)
    present = np.unique(y[rows])
    if len(rows) < MIN_ROWS or len(present) < 2:
        return NONE
    from cleanlab.filter import find_label_issues

    given = np.searchsorted(present, y[rows])  # compact 0..k-1, as cleanlab wants
    proba = out_of_sample_proba(estimator, X[rows], given, seed=seed, folds=folds)
    # n_jobs=1: a Celery worker's process is a daemon and may not start processes of its own
    ranked = find_label_issues(
        given, proba, return_indices_ranked_by="self_confidence", n_jobs=1
    ).astype(np.intp)
    return Suspects(
        rows=rows[ranked],
        self_confidence=proba[ranked, given[ranked]].astype(np.float64),
        suggested=present[proba[ranked].argmax(axis=1)].astype(np.intp),
    )
