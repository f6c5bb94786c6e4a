"""The OpenAPI schema says what the API really answers (lists in pages, downloads in their
media types, the 4xx codes with the error body), and errors keep the API's shape everywhere."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operation(document: dict, path: str, method: str) -> dict:
    return document["paths"][f"/api/v1/{path}"][method]


def _response_schema(document: dict, operation: dict, code: str, media_type: str) -> dict:
    schema = operation["responses"][code]["content"][media_type]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize("path", ["projects/{project_id}/audit/", "projects/{project_id}/models/"])
def test_paginated_lists_are_documented_as_pages_with_their_parameters(document, path):
    operation = _operation(document, path, "get")
    page = _response_schema(document, operation, "200", "application/json")
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["type"] == "array"
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"page", "page_size"} <= names


def test_the_item_list_is_documented_as_keyset_pages(document):
    operation = _operation(document, "projects/{project_id}/items/", "get")
    page = _response_schema(document, operation, "200", "application/json")
    assert set(page["properties"]) == {"next", "previous", "results"}
    names = {parameter["name"] for parameter in operation["parameters"]}
    assert {"cursor", "page_size"} <= names and "page" not in names


@pytest.mark.parametrize(
    ("path", "media_types"),
    [
        ("projects/{project_id}/export/", {"application/json", "application/x-ndjson", "text/csv"}),
        ("projects/{project_id}/audit/export/", {"application/x-ndjson", "text/csv"}),
        ("projects/{project_id}/predictions/", {"application/x-ndjson"}),
    ],
)
def test_downloads_are_documented_in_the_media_types_they_are_sent_in(document, path, media_types):
    operation = _operation(document, path, "get")
    assert set(operation["responses"]["200"]["content"]) == media_types


def test_every_operation_documents_the_errors_it_can_answer_with_the_error_body(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            signed_in = path != "/api/v1/auth/token/"
            if signed_in:
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            if method in ("post", "patch"):
                assert "400" in codes, (method, path)
            for code in codes - {"200", "201", "202", "204"}:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorOutput"), (method, path, code)


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("items/{item_id}/annotations/", "post", "409"),
        ("items/{item_id}/skip/", "post", "409"),
        ("projects/{project_id}/items/import/", "post", "413"),
        ("auth/token/", "post", "429"),
    ],
)
def test_domain_refusals_are_documented(document, path, method, code):
    assert code in _operation(document, path, method)["responses"]


def test_an_unknown_api_url_answers_a_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "no such API endpoint" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/projects/{id}/", "/api/v1/items/{id}/skip/"])
def test_an_id_past_the_64_bit_range_is_a_404_like_any_missing_id(api_client, admin, path):
    api_client.force_authenticate(admin)
    response = api_client.generic(
        "POST" if "skip" in path else "GET",
        path.format(id=2**64),
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 404, response.content
    assert response.json()["detail"] == "not found: no such API endpoint"


def test_an_unknown_page_url_answers_a_page_not_json(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_page_that_is_not_a_number_is_a_400_that_names_the_parameter(api_client, admin, project):
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/audit/?page=abc")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "page", "message": "a page is a whole number from 1"}
    ]


def test_a_page_past_the_end_stays_a_404(api_client, admin, project):
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/audit/?page=5")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "names"),
    [
        (
            "projects/{project_id}/items/",
            {"search", "status", "label", "annotator", "predicted", "flag", "max_confidence"},
        ),
        ("projects/{project_id}/export/", {"format", "search", "status", "label", "annotator"}),
        ("projects/{project_id}/items/import/", {"format", "async"}),
        ("projects/{project_id}/predictions/", {"format"}),
        ("projects/{project_id}/review/next/", {"after"}),
        ("projects/{project_id}/label-issues/", {"include"}),
    ],
)
def test_the_schema_lists_the_query_parameters_each_view_declares(document, path, names):
    method = "post" if path.endswith("import/") else "get"
    declared = {p["name"] for p in _operation(document, path, method).get("parameters", [])}
    assert names <= declared


def test_an_unknown_query_parameter_is_a_400_on_any_call(api_client, admin, project):
    api_client.force_authenticate(admin)
    response = api_client.get(f"/api/v1/projects/{project.id}/?verbose=1")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "verbose", "message": "unknown query parameter"}]


def test_the_caller_is_checked_before_the_query(api_client, project):
    response = api_client.get(f"/api/v1/projects/{project.id}/?verbose=1")
    assert response.status_code == 401


@pytest.mark.parametrize(("query", "field"), [("format=xml", "format"), ("async=maybe", "async")])
def test_a_bad_import_parameter_is_a_400_naming_it(api_client, admin, project, query, field):
    api_client.force_authenticate(admin)
    response = api_client.post(
        f"/api/v1/projects/{project.id}/items/import/?{query}",
        data=b'{"text": "a"}\n',
        content_type="application/x-ndjson",
    )
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert project.items.count() == 0


def test_the_served_item_documents_the_models_top_labels(document):
    operation = _operation(document, "projects/{project_id}/next/", "get")
    served = _response_schema(document, operation, "200", "application/json")
    assert {"id", "external_id", "data", "prediction", "evaluation"} == set(served["properties"])
    ref = served["properties"]["prediction"]
    name = (ref.get("$ref") or ref["allOf"][0]["$ref"]).rsplit("/", 1)[1]
    prediction = document["components"]["schemas"][name]
    assert {"labels", "confidence", "version_id", "top"} == set(prediction["properties"])
    assert prediction["properties"]["top"]["type"] == "array"
    assert prediction["properties"]["top"]["nullable"] is True
