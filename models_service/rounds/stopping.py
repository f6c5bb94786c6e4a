"""The stopping rule's decision for a new version, from the project's rounds so far."""

import numpy as np

from models_service.ml import stopping
from models_service.models import ModelVersion


def decide(version: ModelVersion) -> dict:
    """{"stop", "reason"} of the project's rule over its ready versions and this one. Only the
    fields the rules read are loaded (a project's history grows by a version every label or
    two early on)."""
    history = list(
        ModelVersion.objects.filter(project_id=version.project_id, status=ModelVersion.Status.READY)
        .exclude(id=version.id)
        .order_by("number")
        .only("trained_on", "eval_size", "metrics", "stop_set_predictions")
    ) + [version]
    rounds = [
        stopping.Round(
            labels=v.trained_on + v.eval_size,
            metric=v.metrics.get("accuracy"),
            stop_set_predictions=(
                np.asarray(v.stop_set_predictions) if v.stop_set_predictions else None
            ),
            evaluated=v.metrics.get("n", 0),
        )
        for v in history
    ]
    project = version.project
    rule = stopping.rule_from_spec(project.stopping_rule, eval_sample_size=project.eval_sample_size)
    decision = rule.decide(rounds)
    return {"stop": decision.stop, "reason": decision.reason}
