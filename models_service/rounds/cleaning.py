"""Label-error detection after a round: the serving version's model, cross-validated on every
labelled item, names the labels it finds likely wrong (ml.label_errors), and annotation's
label_issues keeps the top few for reviewers."""

import time

import numpy as np

from annotation import label_issues
from models_service import schedule
from models_service.ml import label_errors
from models_service.ml.estimators import make_estimator
from models_service.models import ModelVersion
from models_service.rounds import training
from models_service.rounds.artifacts import store
from models_service.rounds.data import training_data


def find_label_issues(version_id: int) -> int | None:
    """Rank the labelled items of the serving version's project by how likely their label is
    wrong and record the suspects; returns how many new issues, None when skipped.

    Why a task of its own after the switch: its three fits on every labelled item cost about
    what the round's own fit does (on PostgreSQL, 20,000 labelled short texts: 7.8 s against a
    10.4 s round; 2,000: 0.6 s against 3.0 s), and annotators should not wait for them.
    Skipped for a version already replaced (the next one runs it on newer labels) and for
    multi-label projects (ml.label_errors). Evaluation items are checked too: a wrong label
    there misleads the figures instead of the model."""
    version = ModelVersion.objects.filter(id=version_id).select_related("project").first()
    if version is None or version.project.is_multi_label:
        return None
    serving = schedule.serving_version(version.project_id)
    if serving is None or serving.id != version.id:
        return None
    started = time.perf_counter()
    # the labels the version could have been trained on: given before its row was written
    data = training_data(version.project, answered_until=version.created_at)
    ids, items = data.train.ids + data.eval.ids, data.train.items + data.eval.items
    targets = np.asarray(data.train.targets + data.eval.targets, dtype=np.intp)
    bundle = training.bundle_of(version)
    X = bundle.model_input(store.bundle_features(bundle, ids, items))
    estimator = make_estimator(version.model, seed=version.number)
    found = label_errors.find(estimator, X, targets, seed=version.number)
    suspects = [
        label_issues.Suspect(
            item_id=ids[row],
            label=data.classes[targets[row]],
            suggested=data.classes[suggested],
            self_confidence=round(float(confidence), 4),
        )
        for row, confidence, suggested in zip(
            found.rows, found.self_confidence, found.suggested, strict=True
        )
    ]
    new = label_issues.record(version.project_id, suspects)
    seconds = round(time.perf_counter() - started, 3)
    ModelVersion.objects.filter(id=version.id).update(
        timings=version.timings | {"label_issues_s": seconds}
    )
    return new
