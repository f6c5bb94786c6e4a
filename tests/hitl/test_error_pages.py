"""Errors in the pages say what to do; errors in the API stay JSON."""

import pytest
from django.test import Client, RequestFactory

from hitl.views import server_error

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_project_page_of_someone_elses_project_says_to_ask_its_admin(project, outsider):
    response = _client(outsider).get(f"/projects/{project.id}/")
    assert response.status_code == 404
    assert "ask an admin of their project to add you" in response.content.decode()


def test_a_page_above_ones_role_is_a_403_that_says_whom_to_ask(project, annotator):
    response = _client(annotator).get(f"/projects/{project.id}/settings/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "Ask an admin of the project" in page


def test_a_server_error_is_a_page_for_browsers_and_json_for_the_api():
    page = server_error(RequestFactory().get("/projects/1/"))
    assert page.status_code == 500 and b"Something went wrong" in page.content
    api = server_error(RequestFactory().get("/api/v1/projects/1/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


def test_the_login_form_keeps_the_username_after_a_wrong_password(admin):
    response = Client().post("/login/", {"username": "alice-admin", "password": "wrong"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'value="alice-admin"' in page
    assert "did not match" in page
