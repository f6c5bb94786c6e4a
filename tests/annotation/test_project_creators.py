"""HITL_PROJECT_CREATORS decides who may create projects: any signed-in user by default, or
staff only. Every way in (API, page) asks the same gate."""

import pytest
from rest_framework.test import APIClient

from annotation.models import Project
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BODY = {"name": "New", "labels": ["a", "b"]}
FORM = {"name": "New", "task_type": "single_label", "overlap": 1, "labels": "a\nb"}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_by_default_any_signed_in_user_creates_projects(client):
    user = UserFactory()
    assert _api(user).post("/api/v1/projects/", BODY, format="json").status_code == 201
    client.force_login(user)
    assert "New project" in client.get("/").content.decode()
    assert client.post("/projects/new/", FORM).status_code == 302
    assert Project.objects.filter(created_by=user).count() == 2


def test_with_staff_creators_others_are_refused_and_nothing_is_created(client, settings):
    settings.HITL_PROJECT_CREATORS = "staff"
    user = UserFactory()
    refused = _api(user).post("/api/v1/projects/", BODY, format="json")
    assert refused.status_code == 403
    assert "HITL_PROJECT_CREATORS=staff" in refused.json()["detail"]
    client.force_login(user)
    assert "New project" not in client.get("/").content.decode()
    assert client.get("/projects/new/").status_code == 403
    assert client.post("/projects/new/", FORM).status_code == 403
    assert not Project.objects.exists()


def test_with_staff_creators_staff_create_projects(client, settings):
    settings.HITL_PROJECT_CREATORS = "staff"
    staff = UserFactory(is_staff=True)
    assert _api(staff).post("/api/v1/projects/", BODY, format="json").status_code == 201
    client.force_login(staff)
    assert client.post("/projects/new/", FORM).status_code == 302
