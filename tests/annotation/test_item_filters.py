"""Finding items: full-text search, status, label and annotator filters, in the item list and
in the export alike (annotation.selectors.filtered_items), on PostgreSQL and SQLite."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import reviews, search
from annotation.models import AuditEvent, Item
from tests.factories import answer, serve, skip
from tests.services import require_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def texts(project, annotator, admin):
    """Four items; the first answered `pos` by the annotator, the second `neg` by the admin."""
    items = [
        Item.objects.create(project=project, data={"text": text, "source": source})
        for text, source in [
            ("The Battery died after two days", "shop"),
            ("battery fine, screen cracked", "forum"),
            ("Lovely screen and a long battery life", "shop"),
            ("Nothing to say", "forum"),
        ]
    ]
    answer(items[0], annotator, ["pos"])
    answer(items[1], admin, ["neg"])
    return items


def _ids(client, project, query: str) -> list[int]:
    response = client.get(f"/api/v1/projects/{project.id}/items/?{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def test_search_finds_the_items_whose_text_holds_every_word(client, project, texts):
    assert _ids(client, project, "search=battery") == [texts[0].id, texts[1].id, texts[2].id]
    assert _ids(client, project, "search=BATTERY+screen") == [texts[1].id, texts[2].id]
    assert _ids(client, project, "search=keyboard") == []


def test_search_reads_the_text_only_not_other_fields(client, project, texts):
    assert _ids(client, project, "search=shop") == []


def test_search_follows_an_items_text_when_it_changes(client, project, texts):
    Item.objects.filter(id=texts[3].id).update(data={"text": "a battery at last"})
    assert texts[3].id in _ids(client, project, "search=battery")
    assert _ids(client, project, "search=nothing") == []


def test_imported_items_are_found(client, project):
    body = b'{"text": "imported zebra"}\n{"text": "imported lion"}\n'
    response = client.post(
        f"/api/v1/projects/{project.id}/items/import/",
        data=body,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 201, response.content
    found = client.get(f"/api/v1/projects/{project.id}/items/?search=zebra").json()["results"]
    assert [row["data"]["text"] for row in found] == ["imported zebra"]


@pytest.mark.parametrize("words", ['"unbalanced', "NEAR(battery", "battery*", "a:b", "-", '""'])
def test_search_syntax_in_the_words_is_never_an_error(client, project, texts, words):
    response = client.get(f"/api/v1/projects/{project.id}/items/", {"search": words})
    assert response.status_code == 200, response.content


def test_filters_combine_with_search(client, project, texts, annotator):
    assert _ids(client, project, "status=done") == [texts[0].id, texts[1].id]
    assert _ids(client, project, "label=neg") == [texts[1].id]
    assert _ids(client, project, f"annotator={annotator.username}") == [texts[0].id]
    assert _ids(client, project, "search=battery&label=pos&status=done") == [texts[0].id]
    assert _ids(client, project, "search=screen&label=pos") == []


def test_a_blank_filter_is_no_filter(client, project, texts):
    assert len(_ids(client, project, "status=&label=&annotator=&search=")) == 4


def test_an_unknown_query_parameter_is_a_400_that_names_it(client, project, texts):
    response = client.get(f"/api/v1/projects/{project.id}/items/?staus=done")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "staus", "message": "unknown query parameter"}]
    response = client.get(f"/api/v1/projects/{project.id}/items/?status=closed")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"


def test_the_list_pages_by_cursor_through_every_item_once(client, project, texts):
    url, seen = f"/api/v1/projects/{project.id}/items/?page_size=3", []
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == [item.id for item in texts]
    back = client.get(
        client.get(f"/api/v1/projects/{project.id}/items/?page_size=3").json()["next"]
    )
    previous = client.get(back.json()["previous"]).json()
    assert [row["id"] for row in previous["results"]] == [item.id for item in texts[:3]]


def test_a_cursor_the_list_did_not_give_is_a_400_naming_it(client, project, texts):
    # "o=x" and "p=x" encoded (an offset, a position that are no numbers); not base64
    for cursor in ("bz14", "cD14", "!!"):
        response = client.get(f"/api/v1/projects/{project.id}/items/?cursor={cursor}")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "cursor"
    response = client.get(f"/api/v1/projects/{project.id}/items/?page=2")
    assert response.json()["errors"] == [{"field": "page", "message": "unknown query parameter"}]


def test_flag_filter_finds_flagged_skipped_and_reviewed_items(client, project, texts, admin):
    answer(texts[2], admin, ["pos"], ambiguous=True)
    skip(texts[3], admin)
    reviews.relabel(item=texts[1], reviewer=admin, labels=["pos"])
    assert _ids(client, project, "flag=ambiguous") == [texts[2].id]
    assert _ids(client, project, "flag=needs_expert") == []
    assert _ids(client, project, "flag=skipped") == [texts[3].id]
    assert _ids(client, project, "flag=reviewed") == [texts[1].id]


def test_model_filters_read_the_serving_ranking(client, project, texts):
    assert _ids(client, project, "predicted=pos") == []  # no model yet: nothing passes
    serve(project, {texts[0]: (["pos"], 0.9), texts[1]: (["neg"], 0.55), texts[2]: (["pos"], 0.6)})
    assert _ids(client, project, "predicted=pos") == [texts[0].id, texts[2].id]
    assert _ids(client, project, "max_confidence=0.6") == [texts[1].id, texts[2].id]
    assert _ids(client, project, "predicted=pos&max_confidence=0.6") == [texts[2].id]
    assert _ids(client, project, "max_confidence=") == [item.id for item in texts]


def test_a_confidence_outside_zero_to_one_is_a_400_naming_it(client, project, texts):
    for value in ("2", "-1", "nan", "many"):
        response = client.get(f"/api/v1/projects/{project.id}/items/?max_confidence={value}")
        assert response.status_code == 400, value
        assert response.json()["errors"][0]["field"] == "max_confidence"


def test_the_export_holds_only_the_items_that_pass_and_the_audit_log_says_which(
    client, project, texts
):
    response = client.get(f"/api/v1/projects/{project.id}/export/?search=battery&status=open")
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [row["id"] for row in rows] == [texts[2].id]
    event = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).get()
    assert event.details == {"format": "jsonl", "search": "battery", "status": "open"}


def test_the_export_refuses_an_unknown_filter_instead_of_exporting_everything(
    client, project, texts
):
    response = client.get(f"/api/v1/projects/{project.id}/export/?lable=pos")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "lable", "message": "unknown query parameter"}]


def test_fts5_query_quotes_every_word():
    assert search.fts5_query('battery NEAR( "x') == '"battery" "NEAR(" """x"'
    assert search.fts5_query('  ""  ') == ""


def test_the_search_reads_postgresqls_text_index(project, texts):
    """The search's expression must be the index's exactly, or a million items are read."""
    require_postgres()
    # every project's items, so that only the text index can narrow them
    items = search.text_matches(Item.objects.order_by(), "battery")
    sql, params = items.query.sql_with_params()
    with connection.cursor() as cursor:
        # at a test's few rows a scan is cheaper: take the scans away, leaving the index
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_text_search" in plan, plan


def test_a_word_the_planner_knows_common_skips_the_probe_for_few_matches(
    project, texts, monkeypatch
):
    """PostgreSQL: a word the statistics count in KNOWN_COMMON items or more goes straight to
    the id-order walk (the probe cost 30 ms for a word in half of a million items); a word
    they do not know is probed as before."""
    require_postgres()
    Item.objects.bulk_create(
        Item(project=project, data={"text": f"battery pack {n}"}) for n in range(200)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotation_item")
    monkeypatch.setattr(search, "KNOWN_COMMON", 100)  # battery: in 203 of 204 items
    items = Item.objects.filter(project=project)
    with CaptureQueriesContext(connection) as common_queries:
        common = search.matching(items, "battery")
    assert "ANY" not in str(common.query)
    assert not any("set_config" in query["sql"] for query in common_queries)
    rare = search.matching(items, "cracked")
    assert "ANY" in str(rare.query)  # probed: one match, an id list
    assert list(rare.values_list("id", flat=True)) == [texts[1].id]


def test_a_rare_word_narrows_by_the_index_a_common_one_keeps_the_id_order_walk(
    project, texts, monkeypatch
):
    """PostgreSQL: fewer matches than FEW_MATCHES become an id list (a word in one item of a
    million took 3.1 s read in id order); more keep the plain filter. The planner switches
    the probe turns off are back on afterwards, inside the caller's transaction too."""
    require_postgres()
    monkeypatch.setattr(search, "FEW_MATCHES", 3)
    items = Item.objects.filter(project=project)
    rare = search.matching(items, "cracked")
    common = search.matching(items, "battery")
    assert "ANY" in str(rare.query) and "ANY" not in str(common.query)
    assert list(rare.values_list("id", flat=True)) == [texts[1].id]
    assert sorted(common.values_list("id", flat=True)) == [t.id for t in texts[:3]]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_indexscan'), current_setting('enable_seqscan')"
        )
        assert cursor.fetchone() == ("on", "on")
