"""How fast a project's team works: each annotator's answers and active time today, the team's
pace today, and the active time behind every answer so far (what an hourly cost is paid on).

Active time is counted as annotation.monitoring counts it (a break starts a new session; a
session's first answer took its own lead time), here in SQL with a window over the project's
answers, so that a project with a million answers is summed where it is stored.
"""

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from annotation import monitoring
from annotation.models import Project
from annotation.selectors import ANSWER, ITEM


@dataclass(frozen=True)
class Person:
    username: str
    answers: int  # answers and skips today
    active_hours: float

    @property
    def items_per_hour(self) -> float | None:
        return monitoring.per_hour(self.answers, self.active_hours * 3600)


@dataclass(frozen=True)
class Pace:
    today: list[Person]  # who answered today, busiest first
    answers_today: int
    answers_per_hour: float | None  # today's answers over the hours from the first to the latest
    answers: int  # every answer and skip so far
    active_hours: float  # the team's, over every answer so far


def team_pace(project: Project, now: datetime | None = None) -> Pace:
    """One query. "Today" starts at midnight in the site's time zone."""
    now = now or timezone.now()
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))
    gap = monitoring.SESSION_GAP.total_seconds()
    if connection.vendor == "postgresql":
        seconds = "EXTRACT(EPOCH FROM a.created_at)::float8"
    else:  # SQLite keeps UTC text; julianday reads it
        seconds = "(julianday(a.created_at) - 2440587.5) * 86400.0"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.username, COUNT(*), SUM(work), "
            "SUM(CASE WHEN at >= %s THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN at >= %s THEN work ELSE 0 END), "
            "MIN(CASE WHEN at >= %s THEN at END), MAX(at) "
            "FROM (SELECT annotator_id, at, CASE "
            "  WHEN prev IS NOT NULL AND at - prev <= %s THEN at - prev "
            "  WHEN lead_ms IS NULL THEN 0 "
            "  WHEN lead_ms / 1000.0 > %s THEN %s ELSE lead_ms / 1000.0 END AS work "
            f"  FROM (SELECT a.annotator_id, {seconds} AS at, a.lead_time_ms AS lead_ms, "
            f"    LAG({seconds}) OVER (PARTITION BY a.annotator_id ORDER BY a.created_at) AS prev "
            f"    FROM {ANSWER} a JOIN {ITEM} i ON i.id = a.item_id WHERE i.project_id = %s) w"
            f") s JOIN {User._meta.db_table} u ON u.id = s.annotator_id "
            "GROUP BY u.username",
            [*[midnight.timestamp()] * 3, gap, gap, gap, project.id],
        )
        rows = cursor.fetchall()
    today = sorted(
        (
            Person(who, int(n_today), round(float(work_today) / 3600, 3))
            for who, _, _, n_today, work_today, _, _ in rows
            if n_today
        ),
        key=lambda person: (-person.answers, person.username),
    )
    answers_today = sum(person.answers for person in today)
    firsts = [first for *_, first, _ in rows if first is not None]
    latest = max((last for *_, last in rows if last is not None), default=None)
    span = latest - min(firsts) if firsts and latest is not None else 0.0
    return Pace(
        today=today,
        answers_today=answers_today,
        answers_per_hour=answers_today * 3600 / span if span > 0 else None,
        answers=sum(int(n) for _, n, *_ in rows),
        active_hours=round(sum(float(work or 0) for _, _, work, *_ in rows) / 3600, 3),
    )


def cost(hourly: Decimal | None, pace: Pace, labelled: int, to_go: int | None) -> dict | None:
    """What the labels cost at the project's hourly cost (None: no cost set): so far, per
    labelled item, and for the labels the stopping rule is estimated to want still."""
    if hourly is None:
        return None
    so_far = float(hourly) * pace.active_hours
    per_label = so_far / labelled if labelled else None
    return {
        "hourly": float(hourly),
        "so_far": round(so_far, 2),
        "per_label": round(per_label, 4) if per_label is not None else None,
        "to_go": round(per_label * to_go, 2)
        if per_label is not None and to_go is not None
        else None,
    }


def hours_to_go(pace: Pace, labelled: int, to_go: int | None) -> float | None:
    """Hours until `to_go` more labelled items at today's pace: answers become labelled items
    at the project's answers-per-labelled-item so far (overlap, skips)."""
    if to_go is None or not pace.answers_per_hour or not labelled:
        return None
    answers_per_label = max(1.0, pace.answers / labelled)
    return round(to_go * answers_per_label / pace.answers_per_hour, 2)
