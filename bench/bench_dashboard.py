"""The dashboard's data (models_service.learning.state, GET learning/) on PostgreSQL: a project
with --answers answers from 10 annotators (bench_annotators' crowd, a few seconds apart with
breaks), --versions ready model versions each with its metrics and 500 stop-set predictions,
and an hourly cost. Measured in the process: the state, the API view and the team's pace
alone (the one read that grows with the answers), p50 and p99 of --repeat calls, and the
queries each makes. The page polls the API every 2 s.

Run: .venv/bin/python bench/bench_dashboard.py [--answers 20000 200000] [--versions 40]
"""

import argparse
import os
import random
from decimal import Decimal

from bench_annotators import build, emptied
from bench_review_queue import setup_django, timed
from common import fresh_postgres, ms, percentile, table

DATABASE = os.environ.get("BENCH_DATABASE", "hitl_bench_dashboard")


def add_versions(project, versions: int, seed: int = 3) -> None:
    """Ready versions every 50 labels, accuracy rising, predictions settling."""
    from models_service.models import ModelVersion

    rng = random.Random(seed)
    predictions = [rng.randrange(3) for _ in range(500)]
    rows = []
    for number in range(1, versions + 1):
        predictions = [p if rng.random() > 1 / number else rng.randrange(3) for p in predictions]
        accuracy = round(0.9 - 0.5 / number**0.5, 4)
        rows.append(
            ModelVersion(
                project=project,
                number=number,
                status=ModelVersion.Status.READY,
                model="logistic_regression",
                strategy="uncertainty",
                trained_on=40 * number,
                eval_size=10 * number,
                metrics={"n": 10 * number, "accuracy": accuracy, "macro_f1": accuracy - 0.05},
                cv_metrics={"n": 40 * number, "accuracy": accuracy + 0.03},
                stop_set_predictions=predictions,
                stopping={"stop": False, "reason": "stable for 0 of 3 rounds"},
            )
        )
    ModelVersion.objects.bulk_create(rows)


def measure(answers: int, versions: int, repeat: int) -> list[list]:
    """The cases on a project of `answers` answers, in the database Django is set up on."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from annotation import pace
    from models_service import learning

    project, admin = build(answers, 10)
    project.hourly_cost = Decimal("20.00")
    project.save()
    add_versions(project, versions)
    client = Client()
    client.force_login(admin)
    api = f"/api/v1/projects/{project.id}/learning/"
    assert client.get(api).status_code == 200
    rows = []

    def case(name: str, call) -> None:
        call()
        queries = []
        with connection.execute_wrapper(
            lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)
        ):
            call()
        values = timed(call, repeat)
        p50, p99 = ms(percentile(values, 50)), ms(percentile(values, 99))
        rows.append([f"{answers:,}", name, p50, p99, len(queries)])

    case("the team's pace", lambda: pace.team_pace(project))
    settings.HITL_DASHBOARD_CACHE_SECONDS = 0
    case("learning.state, computed", lambda: learning.state(project))
    case("GET learning/, computed", lambda: client.get(api))
    settings.HITL_DASHBOARD_CACHE_SECONDS = 30
    case("GET learning/, pace and counts kept", lambda: client.get(api))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--versions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep-database", action="store_true", help="as bench_annotators.py")
    args = parser.parse_args()
    rows: list[list] = []
    for answers in args.answers:
        fresh = (
            (lambda: emptied(DATABASE))
            if args.keep_database
            else (lambda: fresh_postgres(DATABASE))
        )
        if rows:  # a later size: the database afresh, Django already set up
            from django.core.management import call_command
            from django.db import connection

            connection.close()
            fresh()
            call_command("migrate", verbosity=0)
        else:
            setup_django(fresh())
        rows += measure(answers, args.versions, args.repeat)
    table(
        f"Dashboard data, PostgreSQL, in the process: {args.versions} versions, 10 annotators (ms)",
        ["answers", "case", "p50", "p99", "queries"],
        rows,
    )


if __name__ == "__main__":
    main()
