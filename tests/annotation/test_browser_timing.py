"""The data browser's time on PostgreSQL at 50,000 items: a search with two filters on its
first page and far along it, and a word in one item, each within a few times the page
without a filter, and within an absolute budget. Not a benchmark (bench/bench_data_browser.py
measures 1M items): a guard against plans that read far more rows than a page (a rare word
walked in id order took 3.1 s at 1M; a ranking probe per match 125 ms, here 3.1 times the
unfiltered page). Against the unfiltered page, the bound holds on a slow machine too."""

import statistics
import time

import pytest
from django.db import connection
from django.test import Client

from annotation import ranking
from annotation.models import Item
from tests.services import require_postgres

pytestmark = pytest.mark.django_db

ITEMS = 50_000
BUDGET_MS = 250  # absolute, for a slow machine: the 1M target's p99 is 100 ms
TIMES_THE_PLAIN_PAGE = 2  # measured 0.9-1.1 times; the probe per match made it 3.1
REPEAT = 5


@pytest.fixture
def crowded(project):
    """ITEMS items, every one holding "common", one also "unique"; a serving ranking that
    predicts pos for every other item."""
    require_postgres()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotation_item (project_id, data, status, annotation_count, "
            "random_key, in_eval, created_at) SELECT %s, jsonb_build_object('text', "
            "'common words ' || n || CASE WHEN n = 40000 THEN ' unique' ELSE '' END), "
            "'open', 0, random(), false, now() FROM generate_series(1, %s) AS n",
            [project.id, ITEMS],
        )
    ranking.begin(project_id=project.id, ranking_id=project.id)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO annotation_rankeditem (ranking_id, item_id, score, predicted, "
            "confidence, item_open) SELECT %s, id, random(), CASE WHEN id %% 2 = 0 "
            "THEN '[\"pos\"]'::jsonb ELSE '[\"neg\"]'::jsonb END, random(), true "
            "FROM annotation_item WHERE project_id = %s",
            [project.id, project.id],
        )
        cursor.execute("ANALYZE annotation_item")
        cursor.execute("ANALYZE annotation_rankeditem")
    ranking.switch(ranking_id=project.id)
    return project


def _median_ms(client: Client, url: str) -> float:
    assert client.get(url).status_code == 200  # warm: plans and pages read once
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


def test_the_data_browser_answers_inside_its_budget_at_fifty_thousand_items(crowded, reviewer):
    client = Client()
    client.force_login(reviewer)
    page = f"/projects/{crowded.id}/"
    two_filters = "search=common&status=open&predicted=pos"
    far = (
        Item.objects.filter(project=crowded)
        .order_by("id")
        .values_list("id", flat=True)[2 * 20_000]  # past 20,000 matches: page 400
    )
    unique = Item.objects.get(project=crowded, data__text__endswith=" unique")
    plain = _median_ms(client, page)
    timed = {
        "search + two filters, page 1": _median_ms(client, f"{page}?{two_filters}"),
        "the same, page 400": _median_ms(client, f"{page}?{two_filters}&after={far}"),
        "a word in one item": _median_ms(client, f"{page}?search=unique&status=open"),
    }
    slow = {case: round(ms / plain, 1) for case, ms in timed.items()}
    slow = {case: ratio for case, ratio in slow.items() if ratio > TIMES_THE_PLAIN_PAGE}
    assert slow == {}, f"times the plain page's {plain:.1f} ms: {slow} (all ms: {timed})"
    timed["item page"] = _median_ms(client, f"{page}items/{unique.id}/")
    over = {case: round(ms, 1) for case, ms in timed.items() if ms > BUDGET_MS}
    assert over == {}, f"over {BUDGET_MS} ms: {over}"
