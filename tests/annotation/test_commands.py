import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_create_api_user_prints_a_token_that_authenticates(api_client):
    token = _run("create_api_user", "script-bot")
    user = get_user_model().objects.get(username="script-bot")
    assert Token.objects.get(user=user).key == token
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/projects/").status_code == 200


def test_create_api_user_again_prints_the_same_token():
    assert _run("create_api_user", "bot") == _run("create_api_user", "bot")


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
