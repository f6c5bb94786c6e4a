"""What admins and clients read about learning: the curve, the round in flight, the stopping
rule's state in words, and every item's prediction."""

from collections.abc import Iterator

import orjson

from annotation import ranking, selectors
from annotation.models import Project
from models_service import schedule
from models_service.models import ModelVersion, Trainer


def state(project: Project) -> dict:
    """The dashboard's data, in a fixed number of queries whatever the project's size: its
    versions are read without their stop-set predictions (500 numbers each)."""
    versions = list(
        project.model_versions.order_by("number").defer("stop_set_predictions", "timings")
    )
    ready = [v for v in versions if v.status == ModelVersion.Status.READY]
    in_flight = next(
        (
            v
            for v in reversed(versions)
            if v.status in (ModelVersion.Status.TRAINING, ModelVersion.Status.SCORING)
        ),
        None,
    )
    serving = ready[-1] if ready else None
    labelled = selectors.labelled_count(project.id)
    seen = serving.trained_on + serving.eval_size if serving else 0
    progress = selectors.project_progress(project)
    return {
        "labelled": labelled,
        "items": progress["total"],
        "label_distribution": progress["per_label"],
        "serving_version": serving.number if serving else None,
        "curve": [
            {
                "version": v.number,
                "labels": v.trained_on + v.eval_size,
                "trained_on": v.trained_on,
                "eval_size": v.eval_size,
                "accuracy": v.metrics.get("accuracy"),
                "macro_f1": v.metrics.get("macro_f1"),
                "cv_accuracy": v.cv_metrics.get("accuracy"),
            }
            for v in ready
        ],
        "round": None
        if in_flight is None
        else {
            "version": in_flight.number,
            "status": in_flight.status,
            "chunks_done": in_flight.chunks_done,
            "chunks_total": in_flight.chunks_total,
            "items_scored": in_flight.items_scored,
        },
        "next_round_after": max(0, seen + schedule.cadence(seen, project.retrain_every) - labelled),
        "stopping": serving.stopping
        if serving
        else {"stop": False, "reason": "no model yet: the first labels train one"},
        "failure": _failure(project, versions, serving),
    }


def _failure(project: Project, versions: list, serving: ModelVersion | None) -> dict | None:
    """The newest round, if it failed after the serving version: its error and when the next
    round may start."""
    failed = versions[-1] if versions else None
    if failed is None or failed.status != ModelVersion.Status.FAILED:
        return None
    if serving is not None and serving.number > failed.number:
        return None
    trainer = Trainer.objects.filter(project=project).first()
    retry_after = trainer.retry_after if trainer else None
    return {
        "version": failed.number,
        "error": failed.error,
        "retry_after": retry_after.isoformat() if retry_after else None,
    }


def prediction_lines(
    project: Project, version: ModelVersion | None, batch: int = 5_000
) -> Iterator[bytes]:
    """One JSON line per item, in id order, streamed a batch at a time (memory stays flat)."""
    for rows in ranking.predictions(
        project_id=project.id, ranking_id=version.id if version else None, batch=batch
    ):
        lines = []
        for item_id, external_id, predicted, confidence, score in rows:
            labels = predicted if isinstance(predicted, list | None) else orjson.loads(predicted)
            lines.append(
                orjson.dumps(
                    {
                        "id": item_id,
                        "external_id": external_id,
                        "predicted": labels,
                        "confidence": confidence,
                        "score": score,
                        "model_version": version.number if version else None,
                    }
                )
            )
        yield b"\n".join(lines) + b"\n"
