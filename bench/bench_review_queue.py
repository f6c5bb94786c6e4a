"""The review queue's next item (annotation.review_queue.next_for_review) on PostgreSQL, where
it costs the most: many answered items and few reasons among them, so that a call walks far.

A project of --items items, --answered of them (at random) answered once by one of five
annotators, done; a serving ranking of every item whose model is sure (>= 0.9) of a third of
them, always agreeing with the answer, so that the model's candidates are many and none is a
reason; --reasons items up for review (flagged answers), spread at random. Measured in the
process (the function, then the API view through Django's test client, sheet and all):
- first: the first item up for review from the start, a walk to the first reason;
- walk: each next item after the one before, as a reviewer who passes on each goes;
- empty: after the last one, a walk over the rest of the answered items to "none", the
  worst case (a reviewer at the end of the queue, or an empty queue);
- empty at 0 reasons: the whole answered set walked, nothing found.

About a minute at the default size on 2 cores.
Run: .venv/bin/python bench/bench_review_queue.py [--items 100000] [--answered 20000]
     [--reasons 8] [--repeat 20]
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from common import fresh_postgres, ms, percentile, table

DATABASE = os.environ.get("BENCH_DATABASE", "hitl_bench_review_queue")
LABELS = ["pos", "neg", "neutral"]


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="hitl.settings",
        HITL_SECRET_KEY="bench-only",
        HITL_ALLOWED_HOSTS="testserver",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def build(items: int, answered: int, reasons: int, seed: int = 5):
    """The project, its reviewer and the ids of the items up for review."""
    from django.contrib.auth.models import User
    from django.db import connection

    from annotation import ranking, services
    from annotation.models import Annotation, Item, Label, Membership

    rng = random.Random(seed)
    owner = User.objects.create(username="owner")
    reviewer = User.objects.create(username="reviewer")
    people = [User.objects.create(username=f"annotator{n}") for n in range(5)]
    project = services.create_project(
        creator=owner, name="review bench", labels=[{"name": name} for name in LABELS]
    )
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    Item.objects.bulk_create(
        (Item(project=project, data={"text": f"text {n}"}) for n in range(items)),
        batch_size=5_000,
    )
    ids = list(Item.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    chosen = sorted(rng.sample(ids, answered))
    flagged = set(rng.sample(chosen, reasons))
    given = {item_id: rng.choice(LABELS) for item_id in chosen}
    Annotation.objects.bulk_create(
        (
            Annotation(
                item_id=item_id,
                annotator=people[n % 5],
                ambiguous=item_id in flagged,
                lead_time_ms=1000,
            )
            for n, item_id in enumerate(chosen)
        ),
        batch_size=5_000,
    )
    label_ids = dict(Label.objects.filter(project=project).values_list("name", "id"))
    through = Annotation.labels.through
    through.objects.bulk_create(
        (
            through(annotation_id=answer_id, label_id=label_ids[given[item_id]])
            for answer_id, item_id in Annotation.objects.filter(item__project=project).values_list(
                "id", "item_id"
            )
        ),
        batch_size=5_000,
    )
    Item.objects.filter(id__in=chosen).update(annotation_count=1, status="done")
    confidence = [rng.uniform(0.5, 1.0) for _ in ids]
    predicted = [
        [given[item_id]] if item_id in given and sure >= 0.9 else [rng.choice(LABELS)]
        for item_id, sure in zip(ids, confidence, strict=True)
    ]
    ranking_id = 1_000_000
    ranking.begin(project_id=project.id, ranking_id=ranking_id)
    ranking.write_chunk(
        ranking_id=ranking_id,
        item_ids=ids,
        scores=confidence,
        predicted_json=[json.dumps(names) for names in predicted],
        confidence=confidence,
        is_open=[item_id not in given for item_id in ids],
    )
    ranking.switch(ranking_id=ranking_id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return project, reviewer, sorted(flagged)


def timed(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--answered", type=int, default=20_000)
    parser.add_argument("--reasons", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    setup_django(fresh_postgres(DATABASE))
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from annotation import review_queue
    from annotation.models import Annotation

    project, reviewer, flagged = build(args.items, args.answered, args.reasons)
    first = review_queue.next_for_review(project)
    assert first is not None and first.item_id == flagged[0], (first, flagged[:3])
    walked = []
    cursor = None
    while (found := review_queue.next_for_review(project, after=cursor)) is not None:
        walked.append(found.item_id)
        cursor = found.item_id
    assert walked == flagged, (walked, flagged)
    with CaptureQueriesContext(connection) as queries:
        review_queue.next_for_review(project, after=flagged[-1])
    rows = []

    def case(name: str, call, note: str) -> None:
        values = timed(call, args.repeat)
        rows.append(
            [name, ms(percentile(values, 50)), ms(percentile(values, 99)), args.repeat, note]
        )

    case("first", lambda: review_queue.next_for_review(project), f"item {flagged[0]}")

    def walk() -> None:
        cursor = None
        while (found := review_queue.next_for_review(project, after=cursor)) is not None:
            cursor = found.item_id

    values = timed(walk, max(args.repeat // 4, 3))
    per_call = [value / (len(flagged) + 1) for value in values]
    rows.append(
        [
            "walk, per call",
            ms(percentile(per_call, 50)),
            ms(percentile(per_call, 99)),
            len(values),
            f"{len(flagged)} items and the end",
        ]
    )
    case(
        "empty (after the last)",
        lambda: review_queue.next_for_review(project, after=flagged[-1]),
        f"{len(queries)} queries",
    )
    Annotation.objects.filter(item__project=project).update(ambiguous=False)
    assert review_queue.next_for_review(project) is None
    case(
        "empty at 0 reasons",
        lambda: review_queue.next_for_review(project),
        f"{args.answered:,} answered walked",
    )
    Annotation.objects.filter(item_id=flagged[-1]).update(ambiguous=True)
    api = Client()
    api.force_login(reviewer)
    url = f"/api/v1/projects/{project.id}/review/next/"
    assert api.get(url).status_code == 200
    case("API: next, the last item", lambda: api.get(url), "GET review/next/, sheet and all")
    table(
        f"Review queue, next item: {args.items:,} items, {args.answered:,} answered, "
        f"PostgreSQL, in the process (ms)",
        ["case", "p50", "p99", "calls", "note"],
        rows,
    )


if __name__ == "__main__":
    main()
