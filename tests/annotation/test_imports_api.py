import csv
import io
import json

import pytest

from annotation.models import Annotation, Item

pytestmark = pytest.mark.django_db


def _post(client, project, body: bytes, content_type: str, query: str = ""):
    return client.post(
        f"/api/v1/projects/{project.id}/items/import/{query}", data=body, content_type=content_type
    )


@pytest.fixture
def admin_client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def test_json_array_import_keeps_external_ids_and_extra_fields(admin_client, project):
    rows = [{"external_id": "a", "text": "hello", "source": "web"}, {"text": "world"}]
    response = _post(admin_client, project, json.dumps(rows).encode(), "application/json")
    assert response.status_code == 201, response.json()
    assert response.json() == {
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "answers": 0,
        "detail": "2 rows: 2 new items",
    }
    items = list(Item.objects.filter(project=project).order_by("id").values("external_id", "data"))
    assert items == [
        {"external_id": "a", "data": {"text": "hello", "source": "web"}},
        {"external_id": None, "data": {"text": "world"}},
    ]


def test_jsonl_import_skips_blank_lines(admin_client, project):
    body = b'{"text": "one", "external_id": 1}\n\n{"text": "two"}\n'
    response = _post(admin_client, project, body, "application/x-ndjson")
    assert response.status_code == 201
    assert sorted(Item.objects.values_list("data__text", flat=True)) == ["one", "two"]
    assert Item.objects.get(data__text="one").external_id == "1"


def test_csv_import_reads_quoted_multiline_text(admin_client, project):
    body = b'external_id,text,lang\nx1,"two\nlines, with comma",en\nx2,plain,\n'
    response = _post(admin_client, project, body, "text/csv")
    assert response.status_code == 201, response.json()
    first = Item.objects.get(external_id="x1")
    assert first.data == {"text": "two\nlines, with comma", "lang": "en"}
    assert Item.objects.get(external_id="x2").data == {"text": "plain"}


def test_multipart_file_upload_takes_the_format_from_the_file_name(admin_client, project):
    upload = io.BytesIO(b'{"text": "from a file"}\n')
    upload.name = "items.jsonl"
    response = admin_client.post(
        f"/api/v1/projects/{project.id}/items/import/", {"file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert Item.objects.get().data["text"] == "from a file"


BAD_UPLOADS = [
    # (description, body, content type, expected (line, field) pairs)
    ("broken JSON line", b'{"text": "ok"}\n{"text": "oops"\n', "application/x-ndjson", [(2, None)]),
    ("broken JSON array", b'[{"text": "a"},\n {"text": }]', "application/json", [(2, None)]),
    (
        "missing text",
        b'{"text": "ok"}\n{"title": "no text"}\n',
        "application/x-ndjson",
        [(2, "text")],
    ),
    ("blank text", b'{"text": "   "}\n', "application/x-ndjson", [(1, "text")]),
    (
        "wrong type",
        b'{"text": 42}\n{"text": "ok", "external_id": [1]}\n',
        "application/x-ndjson",
        [(1, "text"), (2, "external_id")],
    ),
    ("row not an object", b'["a list"]\n', "application/x-ndjson", [(1, None)]),
    (
        "duplicate id in file",
        b'{"text": "a", "external_id": "k"}\n{"text": "b", "external_id": "k"}\n',
        "application/x-ndjson",
        [(2, "external_id")],
    ),
    (
        "bad encoding",
        b'{"text": "fine"}\n{"text": "caf\xe9"}\n',
        "application/x-ndjson",
        [(2, None)],
    ),
    ("empty file", b"", "application/x-ndjson", [(1, None)]),
    ("whitespace only", b"\n  \n", "text/csv", [(1, None)]),
    ("empty array", b"[]", "application/json", [(1, None)]),
    ("csv without text column", b"id,body\n1,hello\n", "text/csv", [(1, "text")]),
    ("csv ragged row", b"text,lang\nhello,en\nbye\n", "text/csv", [(3, None)]),
    ("csv empty text", b"text,lang\n,en\n", "text/csv", [(2, "text")]),
    (
        "bad features",
        b'{"text": "a", "features": [1, "x"]}\n',
        "application/x-ndjson",
        [(1, "features")],
    ),
    (
        "array element lines",
        b'[\n{"text": "a"},\n{"text": ""},\n{"nope": 1}\n]',
        "application/json",
        [(3, "text"), (4, "text")],
    ),
    # PostgreSQL stores no NUL character: each one is a row error, never a 500 from COPY
    ("NUL in text", b'{"text": "a\\u0000b"}\n', "application/x-ndjson", [(1, "text")]),
    (
        "NUL in external_id",
        b'{"text": "a", "external_id": "x\\u0000"}\n',
        "application/x-ndjson",
        [(1, "external_id")],
    ),
    (
        "NUL in a key",
        b'{"text": "a", "no\\u0000te": 1}\n',
        "application/x-ndjson",
        [(1, "no\\u0000te")],
    ),
    (
        "NUL deep in the data",
        b'{"text": "a"}\n{"text": "b", "meta": {"tags": ["ok", "b\\u0000"]}}\n',
        "application/x-ndjson",
        [(2, "meta.tags.1")],
    ),
    (
        "NUL in a JSON array",
        b'[{"text": "ok"},\n{"text": "\\u0000"}]',
        "application/json",
        [(2, "text")],
    ),
    (
        "lone surrogate in a JSON array",
        b'[{"text": "ok"},\n{"text": "\\ud800"}]',
        "application/json",
        [(2, "text")],
    ),
    ("raw NUL in CSV", b"text,lang\nok,en\nab\x00c,en\n", "text/csv", [(3, "text")]),
    # deep nesting: a row error, never a RecursionError
    (
        "JSON Lines nested 100,000 deep",
        b'{"text": "a", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
        "application/x-ndjson",
        [(1, None)],
    ),
    (
        "JSON array nested 100,000 deep",
        b'[{"text": "ok"},\n{"text": "a", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
        "application/json",
        [(2, None)],
    ),
    (
        "nested too deep to store",
        b'{"text": "a", "deep": ' + b"[" * 300 + b"]" * 300 + b"}\n",
        "application/x-ndjson",
        [(1, "deep")],
    ),
    # CSV quoting: a quote that never closes is an error where it opens, not a field that
    # swallows the rest of the file
    (
        "csv quote never closed",
        b'text,lang\nok,en\n"never closed,en\nmore,fr\nand more,de\n',
        "text/csv",
        [(3, "text")],
    ),
    (
        "csv quote never closed in a later column",
        b'lang,text\nen,ok\nen,"never closed\nfr,more\n',
        "text/csv",
        [(3, "text")],
    ),
    ("csv text after a closing quote", b'text,lang\n"a"b,en\n', "text/csv", [(2, None)]),
    # feature vectors: the model takes them as one matrix
    (
        "features of different lengths",
        b'{"text": "a", "features": [1, 2]}\n{"text": "b", "features": [1, 2, 3]}\n',
        "application/x-ndjson",
        [(2, "features")],
    ),
    (
        "features in CSV of different lengths",
        b'text,features\na,"[1, 2]"\nb,"[1, 2]"\nc,"[3]"\n',
        "text/csv",
        [(4, "features")],
    ),
    (
        "empty features",
        b'{"text": "a", "features": []}\n',
        "application/x-ndjson",
        [(1, "features")],
    ),
    (
        "a line longer than any row",
        b'{"text": "' + b"x" * (5 * 1024 * 1024) + b'"}\n{"text": "fine"}\n',
        "application/x-ndjson",
        [(1, None)],
    ),
    # labels become an answer, checked as one
    (
        "unknown label",
        b'{"text": "a", "labels": ["pos"]}\n{"text": "b", "labels": ["cat"]}\n',
        "application/x-ndjson",
        [(2, "labels")],
    ),
    (
        "two labels in a single-label project",
        b'{"text": "a", "labels": ["pos", "neg"]}\n',
        "application/x-ndjson",
        [(1, "labels")],
    ),
    (
        "a label given twice",
        b'{"text": "a", "labels": ["pos", "pos"]}\n',
        "application/x-ndjson",
        [(1, "labels")],
    ),
    (
        "labels not a list",
        b'{"text": "a", "labels": "pos"}\n',
        "application/x-ndjson",
        [(1, "labels")],
    ),
    (
        "annotator nobody has",
        b'{"text": "a", "labels": ["pos"], "annotator": "nobody"}\n',
        "application/x-ndjson",
        [(1, "annotator")],
    ),
    ("csv unknown label", b"text,labels\na,pos\nb,pos|cat\n", "text/csv", [(3, "labels")]),
]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [case[1:] for case in BAD_UPLOADS],
    ids=[case[0] for case in BAD_UPLOADS],
)
def test_bad_uploads_report_line_and_field_and_insert_nothing(
    admin_client, project, body, content_type, expected
):
    response = _post(admin_client, project, body, content_type)
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert [(error["line"], error["field"]) for error in errors] == expected
    assert all(error["message"] for error in errors)
    assert not Item.objects.exists()
    assert not Annotation.objects.exists()


def test_one_bad_row_among_many_good_ones_inserts_nothing(admin_client, project):
    lines = [json.dumps({"text": f"row {n}"}) for n in range(5_000)]
    lines[4_321] = '{"text": null}'
    response = _post(admin_client, project, "\n".join(lines).encode(), "application/x-ndjson")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 4_322, "field": "text", "message": "missing: every item needs a text"}
    ]
    assert not Item.objects.exists()


def test_an_external_id_already_in_the_project_is_an_error_not_a_skip(admin_client, project):
    assert (
        _post(
            admin_client, project, b'{"text": "a", "external_id": "dup"}', "application/x-ndjson"
        ).status_code
        == 201
    )
    response = _post(
        admin_client,
        project,
        b'{"text": "new", "external_id": "fresh"}\n{"text": "b", "external_id": "dup"}',
        "application/x-ndjson",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["line"] == 2
    assert response.json()["errors"][0]["field"] == "external_id"
    assert list(Item.objects.values_list("external_id", flat=True)) == ["dup"]


def test_the_same_external_id_may_live_in_two_projects(admin_client, project, admin):
    from tests.factories import MembershipFactory, ProjectFactory

    other = ProjectFactory()
    MembershipFactory(project=other, user=admin, role="admin")
    body = b'{"text": "a", "external_id": "same"}'
    assert _post(admin_client, project, body, "application/x-ndjson").status_code == 201
    assert _post(admin_client, other, body, "application/x-ndjson").status_code == 201


def test_unknown_content_type_is_refused_with_the_reason(admin_client, project):
    response = _post(admin_client, project, b"hello", "text/plain")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "format"


def test_upload_size_is_bounded(admin_client, project, settings):
    settings.HITL_IMPORT_MAX_BYTES = 100
    body = b"\n".join(json.dumps({"text": "x" * 20}).encode() for _ in range(10))
    response = _post(admin_client, project, body, "application/x-ndjson")
    assert response.status_code == 413
    assert not Item.objects.exists()


def test_csv_round_trip_of_unicode(admin_client, project):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text"])
    writer.writerow(["naïve café — 日本語 😀"])
    response = _post(admin_client, project, buffer.getvalue().encode(), "text/csv")
    assert response.status_code == 201
    assert Item.objects.get().data["text"] == "naïve café — 日本語 😀"
