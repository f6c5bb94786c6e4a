"""Every response carries the Content-Security-Policy (no inline script allowed) and the
Permissions-Policy, and the pages give the policy nothing to refuse: no inline script (a
`json_script` block is data), no inline style, no event-handler attribute. The browser test
(tests/browser/test_content_security_policy.py) shows the pages working under it."""

import re

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Membership
from tests.factories import ItemFactory, MembershipFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>")
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"")
HANDLER = re.compile(r"\son[a-z]+=\"")


@pytest.fixture
def logged_in(client, project):
    root = get_user_model().objects.create_superuser("root", password="pw-root-123")
    MembershipFactory(project=project, user=root, role=Membership.Role.ADMIN)
    ItemFactory(project=project)
    client.force_login(root)
    return client


PAGES = [
    "/",
    "/projects/new/",
    "/projects/{p}/label/",
    "/projects/{p}/dashboard/",
    "/projects/{p}/settings/",
    "/projects/{p}/audit/",
    "/account/token/",
    "/admin/",
    "/admin/annotation/project/{p}/change/",
    "/api/v1/docs/",
]


def _policy(response) -> dict[str, str]:
    directives = (
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    return {name: value for name, value in directives}


def _check_headers(response) -> None:
    policy = _policy(response)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_the_policies_and_nothing_inline(logged_in, project, path):
    response = logged_in.get(path.format(p=project.id))
    assert response.status_code == 200
    _check_headers(response)
    html = response.content.decode()
    assert not INLINE_SCRIPT.findall(html)
    assert not INLINE_STYLE.findall(html)
    assert not HANDLER.findall(html)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_login_pages_too(client, path):
    response = client.get(path)
    assert response.status_code == 200
    _check_headers(response)
    assert not INLINE_SCRIPT.findall(response.content.decode())


def test_api_answers_carry_them_as_well(logged_in, project):
    _check_headers(logged_in.get(f"/api/v1/projects/{project.id}/"))


def test_the_api_docs_start_up_script_is_a_file_of_this_origin(logged_in):
    page = logged_in.get("/api/v1/docs/").content.decode()
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert "/api/v1/docs/?script=" in sources
    script = logged_in.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
