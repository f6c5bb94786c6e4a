"""How good a model is: on the evaluation sample (unbiased) and by cross-validation on the
training labels (biased by the strategy's choices, reported apart)."""

import warnings

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from models_service.ml.arrays import FloatArray, IndexArray
from models_service.ml.estimators import make_estimator
from models_service.ml.features import Matrix

CV_FOLDS = 3
# Cross-validation beyond this many training labels reads a random sample of them, so that its
# three fits stop growing with the labelled set (17,410 labels over a million hashed columns:
# 5.7 s on all, 3.0 s on 2,000, the same accuracy to 0.004; docs/benchmarks.md,
# "Cross-validation: after the switch, on at most 2,000 labels").
CV_MAX_LABELS = 2_000


def metrics(
    y_true: IndexArray, proba: FloatArray, classes: list[str], multi_label: bool
) -> dict[str, object]:
    """Accuracy, macro-F1, per class and the confusion matrix (single-label: the most probable
    class is the answer); exact-match accuracy and micro and macro F1 (multi-label: each label
    at p >= 0.5). `y_true` holds class indices, or indicator rows when multi-label.

    Macro-F1 averages the classes present in `y_true` only: a class the evaluation sample does
    not hold has no F1 to speak of, and counting it as 0 pulled a 5-class project whose sample
    held 4 down by a fifth."""
    if multi_label:
        y_pred = (proba >= 0.5).astype(int)
        present = [int(k) for k in np.flatnonzero(np.asarray(y_true).sum(axis=0))]
        return {
            "n": int(len(y_true)),
            "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "micro_f1": round(float(f1_score(y_true, y_pred, average="micro", zero_division=0)), 4),
            "macro_f1": round(
                float(
                    f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
                    if present
                    else 0.0
                ),
                4,
            ),
        }
    y_pred = proba.argmax(axis=1)
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(
            float(
                f1_score(
                    y_true,
                    y_pred,
                    labels=sorted({int(k) for k in np.unique(y_true)}),
                    average="macro",
                    zero_division=0,
                )
            ),
            4,
        ),
        "per_class": {
            name: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for name, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def cv_sample(n_labels: int, seed: int) -> IndexArray | None:
    """Which training labels to cross-validate on: all (None) up to CV_MAX_LABELS, else a
    random CV_MAX_LABELS of them, in their order."""
    if n_labels <= CV_MAX_LABELS:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_labels, CV_MAX_LABELS, replace=False))


def cross_validated(
    model_name: str,
    X: Matrix,
    y: IndexArray,
    classes: list[str],
    multi_label: bool,
    seed: int,
    out_of: int | None = None,
) -> dict[str, object]:
    """3-fold cross-validation on the training labels (classes rarer than the folds are
    predicted as best the folds allow; sklearn warns, and we accept that at this size). Empty
    when no class has as many labels as there are folds: sklearn refuses to split that.
    `out_of`: how many training labels there were, when X and y are a sample of them."""
    if multi_label or len(y) < 20 or len(np.unique(y)) < 2 or np.bincount(y).max() < CV_FOLDS:
        return {}
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = cross_val_predict(
            make_estimator(model_name, seed=seed), X, y, cv=folds, method="predict_proba"
        )
    full = np.zeros((len(y), len(classes)))
    full[:, np.unique(y).astype(int)] = proba
    note = "cross-validated on training labels"
    if out_of is not None:
        note += f" (a random {len(y):,} of {out_of:,})"
    return metrics(y, full, classes, False) | {"note": note}
