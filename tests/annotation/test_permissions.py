"""Every endpoint against every role: admin, reviewer, annotator, a non-member, nobody.

A non-member gets 404 (the project's existence is not revealed); a member whose role is too
low gets 403; an anonymous caller 401. Refused writes change nothing.
"""

import pytest
from rest_framework.test import APIClient

from annotation.models import Annotation, ImportJob, Item, Membership, Project
from tests.factories import ItemFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ["admin", "reviewer", "annotator", "outsider", "anonymous"]

# endpoint name -> expected status per role, in ROLES order
MATRIX = {
    "get project": (200, 200, 200, 404, 401),
    "patch project": (200, 403, 403, 404, 401),
    "delete project": (204, 403, 403, 404, 401),
    "progress": (200, 200, 200, 404, 401),
    "list members": (200, 403, 403, 404, 401),
    "add member": (201, 403, 403, 404, 401),
    "remove member": (204, 403, 403, 404, 401),
    "import": (201, 403, 403, 404, 401),
    "import job": (200, 403, 403, 404, 401),
    "list items": (200, 200, 403, 404, 401),
    "get item": (200, 200, 403, 404, 401),
    "next": (200, 200, 200, 404, 401),
    "annotate": (201, 201, 201, 404, 401),
    "skip": (201, 201, 201, 404, 401),
    "export": (200, 200, 403, 404, 401),
    "model versions": (200, 200, 200, 404, 401),
    "train": (202, 403, 403, 404, 401),
    "learning": (200, 200, 200, 404, 401),
    "predictions": (200, 200, 403, 404, 401),
    "dashboard page": (200, 200, 200, 404, 302),
}


@pytest.fixture
def world(project, admin, reviewer, annotator, outsider):
    item = ItemFactory(project=project)
    spare = UserFactory(username="spare")
    Membership.objects.create(project=project, user=spare, role="annotator")
    UserFactory(username="candidate")
    job = ImportJob.objects.create(project=project, file_format="jsonl", status="succeeded")
    return {
        "admin": admin,
        "reviewer": reviewer,
        "annotator": annotator,
        "outsider": outsider,
        "anonymous": None,
        "item": item,
        "spare": spare,
        "job": job,
    }


def _call(client: APIClient, name: str, project: Project, world: dict):
    p, i = project.id, world["item"].id
    calls = {
        "get project": lambda: client.get(f"/api/v1/projects/{p}/"),
        "patch project": lambda: client.patch(
            f"/api/v1/projects/{p}/", {"name": "renamed"}, format="json"
        ),
        "delete project": lambda: client.delete(f"/api/v1/projects/{p}/"),
        "progress": lambda: client.get(f"/api/v1/projects/{p}/progress/"),
        "list members": lambda: client.get(f"/api/v1/projects/{p}/members/"),
        "add member": lambda: client.post(
            f"/api/v1/projects/{p}/members/",
            {"username": "candidate", "role": "annotator"},
            format="json",
        ),
        "remove member": lambda: client.delete(
            f"/api/v1/projects/{p}/members/{world['spare'].id}/"
        ),
        "import": lambda: client.post(
            f"/api/v1/projects/{p}/items/import/",
            data=b'{"text": "new"}',
            content_type="application/x-ndjson",
        ),
        "import job": lambda: client.get(f"/api/v1/imports/{world['job'].id}/"),
        "list items": lambda: client.get(f"/api/v1/projects/{p}/items/"),
        "get item": lambda: client.get(f"/api/v1/items/{i}/"),
        "next": lambda: client.get(f"/api/v1/projects/{p}/next/"),
        "annotate": lambda: client.post(
            f"/api/v1/items/{i}/annotations/", {"labels": ["pos"]}, format="json"
        ),
        "skip": lambda: client.post(f"/api/v1/items/{i}/skip/", {}, format="json"),
        "export": lambda: client.get(f"/api/v1/projects/{p}/export/?format=jsonl"),
        "model versions": lambda: client.get(f"/api/v1/projects/{p}/models/"),
        "train": lambda: client.post(f"/api/v1/projects/{p}/train/"),
        "learning": lambda: client.get(f"/api/v1/projects/{p}/learning/"),
        "predictions": lambda: client.get(f"/api/v1/projects/{p}/predictions/?format=jsonl"),
        "dashboard page": lambda: client.get(f"/projects/{p}/dashboard/"),
    }
    return calls[name]()


def _state(project: Project) -> tuple:
    """What a refused request must leave untouched."""
    return (
        Project.objects.filter(id=project.id).values_list("name", flat=True).first(),
        sorted(Membership.objects.filter(project=project).values_list("user__username", "role")),
        Item.objects.filter(project=project).count(),
        Annotation.objects.count(),
    )


@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_permission_matrix(project, world, endpoint, role_index):
    client = APIClient()
    if (user := world[ROLES[role_index]]) is not None:
        client.force_authenticate(user)
        client.force_login(user)  # the pages use the session
    before = _state(project)
    response = _call(client, endpoint, project, world)
    expected = MATRIX[endpoint][role_index]
    assert response.status_code == expected, getattr(response, "content", b"")[:300]
    if expected >= 400:
        assert _state(project) == before


def test_an_annotator_of_one_project_cannot_touch_another(api_client, project, annotator):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    other_item = ItemFactory(project=other)
    api_client.force_authenticate(annotator)
    assert api_client.get(f"/api/v1/projects/{other.id}/next/").status_code == 404
    response = api_client.post(
        f"/api/v1/items/{other_item.id}/annotations/", {"labels": ["pos"]}, format="json"
    )
    assert response.status_code == 404
    assert not Annotation.objects.exists()


def test_a_missing_project_and_a_foreign_one_look_the_same(api_client, outsider, project):
    api_client.force_authenticate(outsider)
    foreign = api_client.get(f"/api/v1/projects/{project.id}/")
    missing = api_client.get("/api/v1/projects/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_token_authentication_works_for_scripts(project, annotator):
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=annotator).key}")
    assert client.get(f"/api/v1/projects/{project.id}/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(f"/api/v1/projects/{project.id}/").status_code == 401


def test_session_writes_need_the_csrf_token(project, annotator):
    item = ItemFactory(project=project)
    client = APIClient(enforce_csrf_checks=True)
    client.login(username=annotator.username, password="pw-for-tests-1")
    response = client.post(
        f"/api/v1/items/{item.id}/annotations/", {"labels": ["pos"]}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Annotation.objects.exists()
