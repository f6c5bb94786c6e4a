"""Cross-validation of the serving version, after its round."""

import numpy as np

from models_service import schedule
from models_service.ml import metrics
from models_service.models import ModelVersion
from models_service.rounds import training
from models_service.rounds.artifacts import store
from models_service.rounds.data import training_data


def cross_validate(version_id: int) -> bool:
    """Cross-validate the serving version on its training labels and store the figures.

    Why after the round: the three folds' fits took as long as the rest of a small round's
    training and held up the switch to the new ranking; here they hold up nothing. A version
    already replaced (labels kept arriving) is skipped, so early on, with a round every label
    or two, most versions carry no cross-validated figures; the evaluation sample's are the
    unbiased ones anyway. Returns whether figures were stored."""
    version = ModelVersion.objects.filter(id=version_id).select_related("project").first()
    if version is None or version.cv_metrics:
        return False
    serving = schedule.serving_version(version.project_id)
    if serving is None or serving.id != version.id:
        return False
    project = version.project
    # the answers the version could have been trained on: given before its row was written
    data = training_data(project, answered_until=version.created_at)
    train = data.train
    sample = metrics.cv_sample(len(train.ids), version.number)
    if sample is not None:
        train = train.subset(sample)
    bundle = training.bundle_of(version)
    X = bundle.model_input(store.bundle_features(bundle, train.ids, train.items))
    figures = metrics.cross_validated(
        version.model,
        X,
        np.asarray(train.targets),
        data.classes,
        project.is_multi_label,
        version.number,
        out_of=None if sample is None else len(data.train.ids),
    )
    ModelVersion.objects.filter(id=version.id).update(cv_metrics=figures)
    return bool(figures)
