"""The annotators view (annotation.annotators.annotator_report, GET annotators/ and its page)
on PostgreSQL: --answers answers from --people annotators of mixed accuracy (one of them
answering "neg" half the time whatever the item), three to an item, a few seconds apart with
a break now and then, some items gold; judged by majority vote and by a Dawid-Skene fit.
Measured in the process: the report, the API view and the page through Django's test client,
p50 and p99 of --repeat calls, and the queries each makes.

About a minute at the default size on 2 cores.
Run: .venv/bin/python bench/bench_annotators.py [--answers 20000] [--people 10] [--repeat 10]
"""

import argparse
import os
import random

from bench_review_queue import setup_django, timed
from common import PG_ADMIN_URL, fresh_postgres, ms, percentile, table

DATABASE = os.environ.get("BENCH_DATABASE", "hitl_bench_annotators")
LABELS = ["pos", "neg", "neutral"]
OVERLAP = 3


def build(answers: int, people: int, seed: int = 11):
    """The project and its admin; every item answered by OVERLAP of the people."""
    from django.contrib.auth.models import User
    from django.db import connection

    from annotation import services
    from annotation.models import Annotation, Item, Label, Membership

    rng = random.Random(seed)
    owner = User.objects.create(username="owner")
    crowd = [User.objects.create(username=f"annotator{n}") for n in range(people)]
    accuracy = [0.95 - 0.35 * n / max(1, people - 1) for n in range(people)]
    project = services.create_project(
        creator=owner, name="annotators bench", labels=[{"name": name} for name in LABELS]
    )
    project.overlap = OVERLAP
    project.save()
    for person in crowd:
        Membership.objects.create(project=project, user=person, role="annotator")
    items = answers // OVERLAP
    Item.objects.bulk_create(
        (Item(project=project, data={"text": f"text {n}"}) for n in range(items)),
        batch_size=5_000,
    )
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    truth = {item_id: rng.choice(LABELS) for item_id in ids}
    given = []
    for item_id in ids:
        for who in rng.sample(range(people), OVERLAP):
            if who == people - 1 and rng.random() < 0.5:
                label = "neg"  # the biased one
            elif rng.random() < accuracy[who]:
                label = truth[item_id]
            else:
                label = rng.choice([name for name in LABELS if name != truth[item_id]])
            given.append((item_id, who, label, rng.randint(2_000, 40_000)))
    Annotation.objects.bulk_create(
        (Annotation(item_id=i, annotator=crowd[w], lead_time_ms=t) for i, w, _, t in given),
        batch_size=5_000,
    )
    label_ids = dict(Label.objects.filter(project=project).values_list("name", "id"))
    chosen = {(i, crowd[w].id): label for i, w, label, _ in given}
    through = Annotation.labels.through
    through.objects.bulk_create(
        (
            through(annotation_id=answer_id, label_id=label_ids[chosen[(item_id, who)]])
            for answer_id, item_id, who in Annotation.objects.filter(
                item__project=project
            ).values_list("id", "item_id", "annotator_id")
        ),
        batch_size=5_000,
    )
    Item.objects.filter(project=project).update(annotation_count=OVERLAP, status="done")
    gold = rng.sample(ids, len(ids) // 50)
    for item_id in gold:
        Item.objects.filter(id=item_id).update(gold=[truth[item_id]])
    with connection.cursor() as cursor:
        # one answer every 6 s across the crowd (about a minute apart per person), and a
        # ten-minute break every 400 answers: sessions to find
        cursor.execute(
            "UPDATE annotation_annotation SET created_at = now() - interval '30 days' "
            "+ id * interval '6 seconds' + (id / 400) * interval '10 minutes'"
        )
        cursor.execute("ANALYZE")
    return project, owner


def emptied(name: str) -> str:
    """The existing database `name` with an empty public schema; its DATABASE_URL."""
    import psycopg

    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="empty the existing database's schema instead of dropping it (DROP DATABASE "
        "waits for every backend of the server, a stuck one of another database too)",
    )
    args = parser.parse_args()
    setup_django(emptied(DATABASE) if args.keep_database else fresh_postgres(DATABASE))
    from django.db import connection
    from django.test import Client

    from annotation import annotators, judging, selectors

    project, admin = build(args.answers, args.people)
    client = Client()
    client.force_login(admin)
    api, page = f"/api/v1/projects/{project.id}/annotators/", f"/projects/{project.id}/annotators/"
    rows = []

    def case(name: str, call) -> None:
        call()  # warm: SciPy's import, the first plan
        queries = []  # counted at the cursor: a request resets Django's own list
        with connection.execute_wrapper(
            lambda run, sql, *rest: queries.append(sql) or run(sql, *rest)
        ):
            call()
        values = timed(call, args.repeat)
        p50, p99 = ms(percentile(values, 50)), ms(percentile(values, 99))
        rows.append([name, p50, p99, args.repeat, len(queries)])

    # alpha with its bootstrap and kappa per pair: the page reads them too, GET agreement/ alone
    case("agreement (GET agreement/ and the page)", lambda: annotators.agreement_report(project))
    for method in ("majority", "dawid_skene"):
        project.consensus = method
        project.save()
        if method == "dawid_skene":
            judging.refit(project, selectors.multiply_answered(project))
        report = annotators.annotator_report(project)
        assert report["method"] == method and len(report["annotators"]) == args.people
        case(f"{method}: the report", lambda: annotators.annotator_report(project))
        case(f"{method}: GET annotators/", lambda: client.get(api))
        case(f"{method}: the page", lambda: client.get(page))
    flagged = [p["username"] for p in report["annotators"] if p["bias"]]
    table(
        f"Annotators view: {args.answers:,} answers from {args.people} annotators, overlap "
        f"{OVERLAP}, PostgreSQL, in the process (ms; flagged for bias: {', '.join(flagged)})",
        ["case", "p50", "p99", "calls", "queries"],
        rows,
    )


if __name__ == "__main__":
    main()
