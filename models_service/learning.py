"""What admins and clients read about learning: the curve, the round in flight, the stopping
rule's state in words, an estimate of what is left, the team's pace and cost, and every item's
prediction."""

import math
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import orjson
from django.conf import settings
from django.core.cache import cache

from annotation import pace, ranking, selectors
from annotation.models import Project
from models_service import schedule
from models_service.ml import stopping
from models_service.models import ModelVersion, Trainer

# A point of the learning curve is drawn once its evaluation sample holds this many items: on
# fewer, accuracy swings by tens of points from one round to the next (its interval says so).
MIN_EVAL_POINTS = 30
T = TypeVar("T")


def state(project: Project, *, viewer: str | None = None, sees_team: bool = True) -> dict:
    """The dashboard's data, in a fixed number of queries whatever the project's size: its
    versions are read without their stop-set predictions (500 numbers each), but for the few
    newest, which the estimate and the headline read. Without `sees_team` (annotators), the
    pace lists only the viewer and the cost is left out: annotators see only their own work."""
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
    progress = _kept("progress", project, lambda: selectors.project_progress(project))
    history = _history(project, ready)
    decision = (
        serving.stopping
        if serving
        else {"stop": False, "reason": "no model yet: the first labels train one"}
    )
    estimate = _estimate(project, history, bool(decision.get("stop")))
    team = _kept("pace", project, lambda: pace.team_pace(project))
    failure = _failure(project, versions, serving)
    return {
        "headline": headline(
            items=progress["total"],
            labelled=labelled,
            serving=serving is not None,
            stop=bool(decision.get("stop")),
            reason=str(decision.get("reason", "")),
            changed=stopping.changed_share(history),
            failure=failure["error"] if failure else None,
        ),
        "labelled": labelled,
        "items": progress["total"],
        "label_distribution": progress["per_label"],
        "serving_version": serving.number if serving else None,
        "min_eval_size": MIN_EVAL_POINTS,
        "curve": [
            {
                "version": v.number,
                "labels": v.trained_on + v.eval_size,
                "trained_on": v.trained_on,
                "eval_size": v.eval_size,
                "accuracy": v.metrics.get("accuracy"),
                "accuracy_interval": _interval(v.metrics.get("accuracy"), v.metrics.get("n", 0)),
                "macro_f1": v.metrics.get("macro_f1"),
                "cv_accuracy": v.cv_metrics.get("accuracy"),
                "cv_n": v.cv_metrics.get("n"),
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
        "stopping": decision,
        "estimate": {
            "labels": estimate.labels,
            "hours": pace.hours_to_go(team, labelled, estimate.labels),
            "reason": estimate.reason,
        },
        "pace": {
            "answers_today": team.answers_today,
            "answers_per_hour": _rounded(team.answers_per_hour, 1),
            "active_hours": team.active_hours,
            "today": [
                {
                    "username": person.username,
                    "answers": person.answers,
                    "active_hours": person.active_hours,
                    "items_per_hour": _rounded(person.items_per_hour, 1),
                }
                for person in team.today
                if sees_team or person.username == viewer
            ],
        },
        "cost": pace.cost(project.hourly_cost, team, labelled, estimate.labels)
        if sees_team
        else None,
        "failure": failure,
        "worker": schedule.workers(),
    }


def _kept(what: str, project: Project, compute: Callable[[], T]) -> T:
    """compute(), kept HITL_DASHBOARD_CACHE_SECONDS per web process: the page asks every 2 s,
    and the figures that read every answer grow with them (at 200,000 answers the pace's
    window took 248 ms and the label counts about 170: bench_dashboard.py)."""
    seconds = settings.HITL_DASHBOARD_CACHE_SECONDS
    if not seconds:
        return compute()
    key = f"hitl:dashboard:{what}:{project.id}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, seconds)
    return found


def headline(
    *,
    items: int,
    labelled: int,
    serving: bool,
    stop: bool,
    reason: str,
    changed: float | None,
    failure: str | None,
) -> str:
    """The dashboard's first sentence: what to do now, and why, in a team lead's words."""
    if not items:
        return "Import items to start: the project has none yet."
    if not serving and failure:
        return f"No model yet: {failure}"
    if not serving:
        return (
            "Keep labelling: the first model trains after "
            f"{schedule.FIRST_MODEL_LABELS} labels ({labelled} so far)."
        )
    if stop:
        return f"You can stop labelling: {reason}."
    if changed is not None and changed > 0:
        one_in = max(2, round(1 / changed))
        return (
            f"Keep labelling: the model is still changing its mind on 1 in {one_in:,} items "
            "between its last two versions."
        )
    return f"Keep labelling: {reason}."


def _history(project: Project, ready: list[ModelVersion]) -> list[stopping.Round]:
    """The ready versions as the stopping rules read them; stop-set predictions for the newest
    few only (one more query)."""
    recent = dict(
        project.model_versions.filter(id__in=[v.id for v in ready[-stopping.ESTIMATE_RECENT - 1 :]])
        .exclude(stop_set_predictions=None)
        .values_list("id", "stop_set_predictions")
    )
    return [
        stopping.Round(
            labels=v.trained_on + v.eval_size,
            metric=v.metrics.get("accuracy"),
            stop_set_predictions=np.asarray(recent[v.id]) if recent.get(v.id) else None,
            evaluated=v.metrics.get("n", 0),
        )
        for v in ready
    ]


def _estimate(project: Project, history: list[stopping.Round], stop: bool) -> stopping.Estimate:
    try:
        rule = stopping.rule_from_spec(
            project.stopping_rule, eval_sample_size=project.eval_sample_size
        )
    except stopping.SpecError:
        return stopping.Estimate(None, "the project's stopping rule is not valid")
    return stopping.labels_to_go(rule, history, stopped=stop, min_evaluated=MIN_EVAL_POINTS)


def _interval(p: float | None, n: int, z: float = 1.96) -> list[float] | None:
    """Wilson's 95% interval for an accuracy measured on n items."""
    if p is None or not n:
        return None
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def _rounded(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


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
        for item_id, external_id, predicted, confidence, score, top in rows:
            labels = predicted if isinstance(predicted, list | None) else orjson.loads(predicted)
            lines.append(
                orjson.dumps(
                    {
                        "id": item_id,
                        "external_id": external_id,
                        "predicted": labels,
                        "confidence": confidence,
                        "score": score,
                        "top": ranking.top_labels(top),
                        "model_version": version.number if version else None,
                    }
                )
            )
        yield b"\n".join(lines) + b"\n"
