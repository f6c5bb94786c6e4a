"""Importing rows whose external_id the project has already: `?on_duplicate=reject` (the
default: each such row an error, nothing imported), `skip` (left out, counted) or `update`
(the item's data replaced), in the request and as a job; an external_id given twice in one
file stays an error in every mode. On SQLite here, on PostgreSQL with DATABASE_URL."""

import json

import pytest

from annotation import imports
from annotation.models import Annotation, AuditEvent, ImportJob, Item
from tests.factories import answer

pytestmark = pytest.mark.django_db

MODES = ["reject", "skip", "update"]


@pytest.fixture
def admin_client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def _jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def _post(client, project, rows: list[dict], query: str = ""):
    return client.post(
        f"/api/v1/projects/{project.id}/items/import/{query}",
        data=_jsonl(rows),
        content_type="application/x-ndjson",
    )


@pytest.fixture
def present(admin_client, project):
    """Two items with external_ids, imported: a and b."""
    rows = [{"external_id": "a", "text": "old alpha"}, {"external_id": "b", "text": "old beta"}]
    assert _post(admin_client, project, rows).status_code == 201
    return {item.external_id: item for item in Item.objects.filter(project=project)}


def _texts(project) -> dict[str, str]:
    return dict(Item.objects.filter(project=project).values_list("external_id", "data__text"))


AGAIN = [
    {"external_id": "a", "text": "new alpha", "lang": "en"},
    {"external_id": "c", "text": "new gamma"},
    {"external_id": "b", "text": "new beta"},
]


def test_reject_is_the_default_each_row_present_an_error_and_the_detail_suggests_a_choice(
    admin_client, project, present
):
    response = _post(admin_client, project, AGAIN)

    assert response.status_code == 400
    body = response.json()
    assert [(e["line"], e["field"]) for e in body["errors"]] == [
        (1, "external_id"),
        (3, "external_id"),
        (None, "external_id"),
    ]
    assert "2 rows of the file are already in this project" in body["detail"]
    assert "on_duplicate=skip" in body["detail"] and "on_duplicate=update" in body["detail"]
    assert body["errors"][-1]["message"] in body["detail"]
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}


def test_skip_leaves_the_rows_present_out_and_counts_them(admin_client, project, present):
    response = _post(admin_client, project, AGAIN, "?on_duplicate=skip")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "created": 1,
        "updated": 0,
        "skipped": 2,
        "answers": 0,
        "detail": "3 rows: 1 new item, 2 already present (skipped)",
    }
    assert _texts(project) == {"a": "old alpha", "b": "old beta", "c": "new gamma"}


def test_skip_of_a_file_all_present_imports_nothing_and_says_so(admin_client, project, present):
    rows = [{"external_id": "a", "text": "x", "labels": ["pos"]}, {"external_id": "b", "text": "y"}]
    response = _post(admin_client, project, rows, "?on_duplicate=skip")

    assert response.status_code == 201, response.json()
    assert response.json()["detail"] == "2 rows, all already present: nothing imported"
    assert (response.json()["skipped"], response.json()["answers"]) == (2, 0)
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}
    assert not Annotation.objects.exists()  # a skipped row's labels go with it


def test_update_replaces_the_data_of_the_items_present_and_the_search_follows(
    admin_client, project, present
):
    response = _post(admin_client, project, AGAIN, "?on_duplicate=update")

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "created": 1,
        "updated": 2,
        "skipped": 0,
        "answers": 0,
        "detail": "3 rows: 1 new item, 2 already present (data updated)",
    }
    alpha = Item.objects.get(project=project, external_id="a")
    assert alpha.id == present["a"].id  # the same item, its answers and history kept
    assert alpha.data == {"text": "new alpha", "lang": "en"}
    assert _texts(project) == {"a": "new alpha", "b": "new beta", "c": "new gamma"}

    def found(words: str) -> list[str]:
        url = f"/api/v1/projects/{project.id}/items/?search={words}"
        return sorted(row["external_id"] for row in admin_client.get(url).json()["results"])

    assert found("new") == ["a", "b", "c"]
    assert found("old") == []


def test_an_update_run_twice_changes_nothing_the_second_time(admin_client, project, present):
    rows = [{"external_id": "a", "text": "new alpha", "labels": ["pos"]}]
    first = _post(admin_client, project, rows, "?on_duplicate=update")
    second = _post(admin_client, project, rows, "?on_duplicate=update")

    assert (
        first.json()["detail"]
        == "1 row, all already present: their items' data updated; 1 answer recorded"
    )
    assert second.status_code == 201, second.json()
    assert (second.json()["updated"], second.json()["answers"]) == (1, 0)  # the answer is there
    assert Annotation.objects.get().item_id == present["a"].id


def test_update_records_a_first_answer_where_the_item_has_room(
    admin_client, project, present, annotator
):
    rows = [
        {"external_id": "a", "text": "alpha", "labels": ["neg"], "annotator": "ann-annotator"},
        {"external_id": "b", "text": "beta"},
    ]
    response = _post(admin_client, project, rows, "?on_duplicate=update")

    assert response.status_code == 201, response.json()
    assert response.json()["answers"] == 1
    given = Annotation.objects.get()
    assert (given.item_id, given.annotator, list(given.labels.values_list("name", flat=True))) == (
        present["a"].id,
        annotator,
        ["neg"],
    )
    assert Item.objects.get(id=present["a"].id).annotation_count == 1


def test_update_refuses_to_change_an_answer_or_pass_the_overlap(
    admin_client, project, present, annotator
):
    answer(present["a"], annotator, ["pos"])  # overlap 1: item a is done
    project.overlap = 2
    project.save(update_fields=["overlap"])
    answer(present["b"], annotator, ["pos"])
    rows = [
        {"external_id": "b", "text": "beta 2", "labels": ["neg"], "annotator": "ann-annotator"},
        {"external_id": "c", "text": "new", "labels": ["pos"]},
    ]
    response = _post(admin_client, project, rows, "?on_duplicate=update")

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["line"], error["field"]) == (1, "labels")
    assert "answered this item already, with other labels" in error["message"]
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}
    assert Annotation.objects.count() == 2

    project.overlap = 1
    project.save(update_fields=["overlap"])
    full = [{"external_id": "b", "text": "beta 2", "labels": ["neg"]}]  # the admin's answer
    response = _post(admin_client, project, full, "?on_duplicate=update")
    assert response.status_code == 400
    assert "every answer it needs already" in response.json()["errors"][0]["message"]
    assert Annotation.objects.count() == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("rows", "line"),
    [
        ([{"external_id": "a", "text": "1"}, {"external_id": "a", "text": "2"}], 2),
        ([{"external_id": "n", "text": "1"}, {"external_id": "n", "text": "2"}], 2),
        (
            [
                {"external_id": "n", "text": "1"},
                {"external_id": "x", "text": "2"},
                {"external_id": "y", "text": "3"},
                {"external_id": "n", "text": "4"},
            ],
            4,
        ),
        (
            [
                {"external_id": "b", "text": "1"},
                {"external_id": "x", "text": "2"},
                {"external_id": "y", "text": "3"},
                {"external_id": "b", "text": "4"},
            ],
            4,
        ),
    ],
    ids=["present, one batch", "new, one batch", "new, two batches", "present, two batches"],
)
def test_an_external_id_given_twice_in_the_file_stays_an_error(
    admin_client, project, present, monkeypatch, mode, rows, line
):
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    response = _post(admin_client, project, rows, f"?on_duplicate={mode}")

    assert response.status_code == 400, response.json()
    lines = [(e["line"], e["field"]) for e in response.json()["errors"]]
    assert (line, "external_id") in lines
    twice = next(e for e in response.json()["errors"] if e["line"] == line)
    assert "already appears on line" in twice["message"]
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}


@pytest.mark.parametrize("mode", ["skip", "update"])
def test_a_bad_row_after_rows_present_leaves_nothing_half_imported(
    admin_client, project, present, monkeypatch, mode
):
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)  # the first batches are written before
    rows = [
        {"external_id": "a", "text": "changed", "labels": ["pos"]},
        {"external_id": "c", "text": "new", "labels": ["neg"]},
        {"external_id": "b", "text": "changed"},
        {"external_id": "d", "text": "new"},
        {"external_id": "e", "text": 42},
    ]
    response = _post(admin_client, project, rows, f"?on_duplicate={mode}")

    assert response.status_code == 400
    assert [(e["line"], e["field"]) for e in response.json()["errors"]] == [(5, "text")]
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}
    assert not Annotation.objects.exists()
    assert not AuditEvent.objects.filter(action="items.imported", details__on_duplicate=mode)


def test_update_checks_vectors_against_the_project_before_writing_any(admin_client, project):
    rows = [{"external_id": "a", "text": "a", "features": [1.0, 2.0]}]
    assert _post(admin_client, project, rows).status_code == 201
    longer = [{"external_id": "a", "text": "a", "features": [1.0, 2.0, 3.0]}]
    response = _post(admin_client, project, longer, "?on_duplicate=update")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "features"
    assert Item.objects.get().data["features"] == [1.0, 2.0]


def test_an_unknown_on_duplicate_is_a_400_naming_it(admin_client, project):
    response = _post(admin_client, project, [{"text": "a"}], "?on_duplicate=merge")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "on_duplicate"
    assert not Item.objects.exists()


def test_the_audit_log_records_the_choice_and_the_counts(admin_client, project, present):
    assert _post(admin_client, project, AGAIN, "?on_duplicate=update").status_code == 201
    event = AuditEvent.objects.filter(action="items.imported").latest("id")
    assert event.details == {
        "format": "jsonl",
        "on_duplicate": "update",
        "created": 1,
        "updated": 2,
        "skipped": 0,
        "answers": 0,
    }


# --- as a job -----------------------------------------------------------------------------


def _run_job(client, project, rows: list[dict], mode: str) -> dict:
    response = _post(client, project, rows, f"?async=true&on_duplicate={mode}")
    assert response.status_code == 202, response.json()
    assert response.json()["on_duplicate"] == mode
    imports.run_import_job(job_id=response.json()["id"])  # what the worker runs
    return client.get(response.json()["url"]).json()


@pytest.mark.parametrize(
    ("mode", "counts", "detail", "texts"),
    [
        (
            "skip",
            (1, 0, 2),
            "3 rows: 1 new item, 2 already present (skipped)",
            {"a": "old alpha", "b": "old beta", "c": "new gamma"},
        ),
        (
            "update",
            (1, 2, 0),
            "3 rows: 1 new item, 2 already present (data updated)",
            {"a": "new alpha", "b": "new beta", "c": "new gamma"},
        ),
    ],
)
def test_a_job_keeps_its_choice_and_reports_what_happened(
    admin_client, project, present, mode, counts, detail, texts
):
    job = _run_job(admin_client, project, AGAIN, mode)

    assert job["status"] == "succeeded", job["errors"]
    assert (job["created_count"], job["updated_count"], job["skipped_count"]) == counts
    assert (job["total_rows"], job["processed_rows"]) == (3, 3)
    assert job["detail"] == detail
    assert _texts(project) == texts
    finished = AuditEvent.objects.filter(action="import.finished").latest("id").details
    assert (finished["on_duplicate"], finished["updated"], finished["skipped"]) == (
        mode,
        counts[1],
        counts[2],
    )


def test_a_rejecting_job_fails_with_each_row_present_and_the_choice_to_make(
    admin_client, project, present
):
    job = _run_job(admin_client, project, AGAIN, "reject")

    assert job["status"] == "failed"
    assert job["detail"] is None
    assert [e["line"] for e in job["errors"]] == [1, 3, None]
    assert "on_duplicate=skip" in job["errors"][-1]["message"]
    assert ImportJob.objects.get(id=job["id"]).created_count == 0
    assert _texts(project) == {"a": "old alpha", "b": "old beta"}
