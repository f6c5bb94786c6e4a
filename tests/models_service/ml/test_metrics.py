"""Evaluation figures on made-up predictions."""

import numpy as np

from models_service.ml.metrics import metrics

CLASSES = ["a", "b", "c"]


def test_macro_f1_averages_only_the_classes_the_sample_holds():
    # the sample holds a and b only, every prediction right: c has no F1 to pull the mean down
    y_true = np.array([0, 0, 1, 1])
    proba = np.eye(3)[y_true]
    figures = metrics(y_true, proba, CLASSES, multi_label=False)
    assert figures["macro_f1"] == 1.0
    assert figures["per_class"]["c"]["support"] == 0


def test_multi_label_macro_f1_leaves_out_labels_no_item_has():
    y_true = np.array([[1, 0, 0], [0, 1, 0]])
    proba = y_true.astype(float)
    assert metrics(y_true, proba, CLASSES, multi_label=True)["macro_f1"] == 1.0
