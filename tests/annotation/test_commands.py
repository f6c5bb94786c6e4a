import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_create_api_user_prints_a_token_that_authenticates(api_client):
    token = _run("create_api_user", "script-bot")
    assert get_user_model().objects.filter(username="script-bot").exists()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/projects/").status_code == 200


def test_create_api_user_again_issues_a_new_token_and_the_old_one_stops_working(api_client):
    first = _run("create_api_user", "bot")
    second = _run("create_api_user", "bot")
    assert first != second
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api_client.get("/api/v1/projects/").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api_client.get("/api/v1/projects/").status_code == 200


def test_load_demo_creates_the_demo_once():
    from annotation.models import Item, Project

    _run("load_demo")
    _run("load_demo")
    project = Project.objects.get()
    assert Item.objects.filter(project=project).count() == 300
    assert project.labels.count() >= 2
    assert all(item.data["text"] and "label" not in item.data for item in Item.objects.all())
    demo = get_user_model().objects.get(username="demo")
    assert demo.check_password("demo-password")
