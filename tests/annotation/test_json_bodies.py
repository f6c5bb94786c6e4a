"""A request body nested too deeply answers 400 before any view sees it: Python's JSON decoder
recursed into a RecursionError (500) at 100,000 levels, and at 900 levels a body parsed, then
overflowed where a serializer encoded it again (500)."""

import pytest

from annotation.api.parsers import MAX_DEPTH
from annotation.models import Project

pytestmark = pytest.mark.django_db


def _nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.fixture
def client(api_client, admin):
    api_client.force_authenticate(admin)
    return api_client


def test_a_body_nested_100000_levels_deep_is_a_400_and_creates_nothing(client, project):
    before = Project.objects.count()
    body = b'{"name": "deep", "labels": ["a"], "instructions": ' + _nested(100_000) + b"}"
    response = client.post("/api/v1/projects/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "JSON parse error" in response.json()["detail"]
    assert Project.objects.count() == before


def test_a_setting_nested_900_levels_deep_is_a_400_and_changes_nothing(client, project):
    body = b'{"stopping_rule": {"kind": "budget", "labels": 5, "x": ' + _nested(900) + b"}}"
    response = client.patch(
        f"/api/v1/projects/{project.id}/", data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert f"nested more than {MAX_DEPTH} levels" in response.json()["detail"]
    project.refresh_from_db()
    assert project.stopping_rule == {}


def test_bodies_up_to_the_limit_parse(client, project):
    inside = _nested(MAX_DEPTH - 1)  # in the body's object: MAX_DEPTH levels in all
    body = b'{"name": "fine \\u00e9", "labels": [{"name": "a"}], "x": ' + inside + b"}"
    response = client.post("/api/v1/projects/", data=body, content_type="application/json")
    assert response.status_code == 400  # an unknown field, said by the serializer: parsed
    assert response.json()["errors"][0]["field"] == "x"
    ordinary = b'{"name": "fine \\u00e9", "labels": [{"name": "a"}]}'
    response = client.post("/api/v1/projects/", data=ordinary, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "fine é"
