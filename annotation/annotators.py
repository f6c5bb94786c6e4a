"""The annotators view's reads: each annotator's counts, speed, agreement, gold accuracy,
Dawid-Skene's estimate and label bias, computed by annotation.monitoring (pure).

Bounded per request: counts and label distributions are SQL aggregates over every answer;
what needs each answer in Python (active time, lead time, leave-one-out agreement, the trend)
reads the project's latest RECENT_ANSWERS answers, with the other answers to their items.
Five queries whatever the number of annotators or answers, seven with a Dawid-Skene fit.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, Q

from annotation import agreement, gold, judging, monitoring, selectors
from annotation.models import Annotation, Project, TruthModel
from annotation.selectors import ANSWER, ANSWER_LABELS, ITEM, LABEL

RECENT_ANSWERS = 20_000


def annotator_report(project: Project, *, recent: int = RECENT_ANSWERS) -> dict[str, Any]:
    """Every annotator of the project who answered or skipped, by username, with the
    project's label shares; the shape of annotation.api.annotators.AnnotatorReportOutput."""
    counts = _counts(project)
    chosen = _label_counts(project)
    answers = _recent_answers(project, recent)
    judge = judging.judge_for(project)
    agreed = monitoring.leave_one_out(answers, _consensus(judge))
    by_person: dict[str, list[monitoring.Answer]] = defaultdict(list)
    for answer in answers:
        if answer.counted:
            by_person[answer.annotator].append(answer)
    on_gold = gold.accuracy_on_gold(project)
    estimated, confusion = _estimates(project)
    labels = list(project.labels.order_by("order", "id").values_list("name", flat=True))
    team = Counter[str]()
    for person_counts in chosen.values():
        team.update(person_counts)
    people = []
    for who in sorted(counts):
        stats = monitoring.work_stats(by_person.get(who, []), agreed)
        bias = monitoring.label_bias(chosen.get(who, {}), team - Counter(chosen.get(who, {})))
        right, answered = on_gold.get(who, (0, 0))
        people.append(
            counts[who]
            | {
                "username": who,
                "active_hours": round(stats.active_seconds / 3600, 3),
                "items_per_hour": _rounded(stats.items_per_hour, 1),
                "median_lead_time_s": _rounded(stats.median_lead_seconds, 2),
                "agreement": _rounded(stats.agreement, 4),
                "agreement_answers": stats.compared,
                "gold_right": right,
                "gold_answered": answered,
                "gold_accuracy": round(right / answered, 4) if answered else None,
                "estimated_accuracy": _rounded(estimated.get(who), 4),
                "estimated_confusion": confusion.get(who),
                "label_shares": _shares(chosen.get(who, {}), labels),
                "bias_p_value": bias.p_value,
                "bias": bias.words,
                "trend": [_point(point) for point in stats.trend],
                "trend_warning": stats.trend_words,
            }
        )
    read = sum(answer.counted for answer in answers)
    total = sum(person["answers"] + person["skips"] for person in people)
    return {
        "method": judge.method,
        "session_gap_minutes": monitoring.SESSION_GAP.total_seconds() / 60,
        "trend_window": monitoring.TREND_WINDOW,
        "answers_read": read,
        "answers_total": total,
        "label_shares": _shares(team, labels),
        "annotators": people,
    }


def agreement_report(project: Project) -> agreement.ProjectAgreement:
    """How far the project's annotators agree beyond chance, over every item with two real
    answers or more (annotation.agreement)."""
    return agreement.project_agreement(
        selectors.multiply_answered(project),
        labels=list(project.labels.values_list("name", flat=True)),
        multi_label=project.is_multi_label,
    )


def _counts(project: Project) -> dict[str, dict[str, Any]]:
    """{username: answers, skips, ambiguous, needs_expert, skip_reasons} over every answer."""
    rows = (
        Annotation.objects.filter(item__project=project)
        .order_by()
        .values_list("annotator__username", "skip_reason")
        .annotate(
            n=Count("id"),
            skips=Count("id", filter=Q(skipped=True)),
            ambiguous=Count("id", filter=Q(ambiguous=True)),
            needs_expert=Count("id", filter=Q(needs_expert=True)),
        )
    )
    counts: dict[str, dict[str, Any]] = {}
    for who, reason, n, skips, ambiguous, needs_expert in rows:
        person = counts.setdefault(
            who, {"answers": 0, "skips": 0, "ambiguous": 0, "needs_expert": 0, "skip_reasons": {}}
        )
        person["answers"] += n - skips
        person["skips"] += skips
        person["ambiguous"] += ambiguous
        person["needs_expert"] += needs_expert
        if skips:
            reasons = person["skip_reasons"]
            reasons[reason or "none"] = reasons.get(reason or "none", 0) + skips
    return counts


def _label_counts(project: Project) -> dict[str, Counter[str]]:
    """{username: {label: real answers choosing it}} over every answer."""
    through = Annotation.labels.through.objects.filter(
        annotation__item__project=project, annotation__skipped=False
    )
    rows = (
        through.order_by()
        .values_list("annotation__annotator__username", "label__name")
        .annotate(n=Count("id"))
    )
    chosen: dict[str, Counter[str]] = defaultdict(Counter)
    for who, name, n in rows:
        chosen[who][name] = n
    return chosen


def _recent_answers(project: Project, recent: int) -> list[monitoring.Answer]:
    """The project's latest `recent` answers (counted), and the other answers to their items
    (not counted: the others of leave-one-out), in one query. Times come as seconds from
    the database: decoding 20,000 timestamps in Python took half the view's time."""
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM a.created_at)::float8"  # numeric would decode slower
    else:  # SQLite keeps UTC text; julianday reads it
        seconds = "(julianday(a.created_at) - 2440587.5) * 86400.0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.id, a.item_id, u.username, a.skipped, a.lead_time_ms, {seconds}, l.name "
            f"FROM {ANSWER} a JOIN {User._meta.db_table} u ON u.id = a.annotator_id "
            f"LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id "
            f"LEFT JOIN {LABEL} l ON l.id = al.label_id "
            f"WHERE a.item_id IN (SELECT b.item_id FROM {ANSWER} b "
            f"JOIN {ITEM} i ON i.id = b.item_id WHERE i.project_id = %s "
            "ORDER BY b.id DESC LIMIT %s) ORDER BY a.id",
            [project.id, recent],
        )
        # a row per label of each answer (one for none), an answer's rows together
        answers = [list(rows) for _, rows in groupby(cursor.fetchall(), key=itemgetter(0))]
    first_counted = len(answers) - recent  # the latest `recent` answers, by id
    return [_answer(rows, counted=n >= first_counted) for n, rows in enumerate(answers)]


def _answer(rows: list[tuple[Any, ...]], *, counted: bool) -> monitoring.Answer:
    """An answer from its rows (one per label it chose, or one with no label)."""
    _, item_id, who, skipped, lead_ms, at, _ = rows[0]
    return monitoring.Answer(
        item=item_id,
        annotator=who,
        labels=tuple(sorted(row[-1] for row in rows if row[-1] is not None)),
        skipped=bool(skipped),
        lead_time_ms=lead_ms,
        at=float(at),
        counted=counted,
    )


def _estimates(project: Project) -> tuple[dict[str, float], dict[str, dict]]:
    """Dawid-Skene's estimate of each annotator's accuracy and confusion matrix from the
    project's fit (kept while its setting is not the majority; under `auto` before the judge
    uses it too)."""
    if project.consensus == Project.Consensus.MAJORITY:
        return {}, {}
    model = TruthModel.objects.filter(project=project).first()
    if model is None:
        return {}, {}
    return judging.estimated_accuracy(model), judging.estimated_confusion(model)


def _consensus(judge: judging.Judge) -> monitoring.Consensus:
    """The project's consensus of some answers, as its judge reads them: labels, or None
    where they tie or are too unsure."""

    def consensus(answers: Sequence[tuple[str, monitoring.Labels]]) -> frozenset[str] | None:
        agreement = judge.agreement([(who, list(labels)) for who, labels in answers])
        if agreement is None or agreement.needs_review:
            return None
        return frozenset(agreement.labels)

    return consensus


def _shares(counts: Counter[str] | dict[str, int], labels: Sequence[str]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: round(counts.get(name, 0) / total, 4) if total else 0.0 for name in labels}


def _point(point: monitoring.TrendPoint) -> dict[str, Any]:
    return {
        "answers": point.answers,
        "started_at": datetime.fromtimestamp(point.started_at, UTC),
        "items_per_hour": _rounded(point.items_per_hour, 1),
        "agreement": _rounded(point.agreement, 4),
        "compared": point.compared,
    }


def _rounded(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)
