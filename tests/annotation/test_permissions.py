"""Every endpoint against every role: admin, reviewer, annotator, a non-member, nobody.

A non-member gets 404 (the project's existence is not revealed); a member whose role is too
low gets 403; an anonymous caller 401. Refused writes change nothing.
"""

import pytest
from django.http import HttpRequest
from rest_framework.test import APIClient

from annotation.models import Annotation, ImportJob, Item, Membership, Project, Review
from tests.factories import ItemFactory, ProjectFactory, UserFactory

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
    "my answers": (200, 200, 200, 404, 401),
    "export": (200, 200, 403, 404, 401),
    "model versions": (200, 200, 200, 404, 401),
    "train": (202, 403, 403, 404, 401),
    "learning": (200, 200, 200, 404, 401),
    "predictions": (200, 200, 403, 404, 401),
    "dashboard page": (200, 200, 200, 404, 302),
    "audit log": (200, 403, 403, 404, 401),
    "audit export": (200, 403, 403, 404, 401),
    "audit page": (200, 403, 403, 404, 302),
    "my token": (200, 200, 200, 200, 401),
    "agreement": (200, 200, 403, 404, 401),
    "label issues": (200, 200, 403, 404, 401),
    "annotators": (200, 200, 403, 404, 401),
    "annotators page": (200, 200, 403, 404, 302),
    "review item": (201, 201, 403, 404, 401),
    "review next": (204, 204, 403, 404, 401),  # nothing is up for review in this world
    "review page": (200, 200, 403, 404, 302),
    "item history": (200, 200, 403, 404, 401),
    "mark gold": (200, 403, 403, 404, 401),
    "unmark gold": (200, 403, 403, 404, 401),
    "project page": (200, 200, 200, 404, 302),
    "item page": (200, 200, 404, 404, 302),  # an annotator: only items they answered
    "item page relabel": (302, 302, 403, 404, 302),
    "item page gold": (302, 403, 403, 404, 302),
}


@pytest.fixture
def world(project, admin, reviewer, annotator, outsider):
    item = ItemFactory(project=project)
    spare = UserFactory(username="spare")
    Membership.objects.create(project=project, user=spare, role="annotator")
    # someone the admin works with elsewhere: an admin adds only people they may see
    elsewhere = ProjectFactory()
    for user in (admin, UserFactory(username="candidate")):
        Membership.objects.create(project=elsewhere, user=user, role="annotator")
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
        # served first, as the page does: only the holder of the item's lease answers it
        "annotate": lambda: _served_then(
            client,
            p,
            lambda: client.post(
                f"/api/v1/items/{i}/annotations/", {"labels": ["pos"]}, format="json"
            ),
        ),
        "skip": lambda: _served_then(
            client, p, lambda: client.post(f"/api/v1/items/{i}/skip/", {}, format="json")
        ),
        "my answers": lambda: client.get(f"/api/v1/projects/{p}/my-answers/"),
        "export": lambda: client.get(f"/api/v1/projects/{p}/export/?format=jsonl"),
        "model versions": lambda: client.get(f"/api/v1/projects/{p}/models/"),
        "train": lambda: client.post(f"/api/v1/projects/{p}/train/"),
        "learning": lambda: client.get(f"/api/v1/projects/{p}/learning/"),
        "predictions": lambda: client.get(f"/api/v1/projects/{p}/predictions/?format=jsonl"),
        "dashboard page": lambda: client.get(f"/projects/{p}/dashboard/"),
        "audit log": lambda: client.get(f"/api/v1/projects/{p}/audit/"),
        "audit export": lambda: client.get(f"/api/v1/projects/{p}/audit/export/?format=csv"),
        "audit page": lambda: client.get(f"/projects/{p}/audit/"),
        "my token": lambda: client.get("/api/v1/me/token/"),
        "agreement": lambda: client.get(f"/api/v1/projects/{p}/agreement/"),
        "label issues": lambda: client.get(f"/api/v1/projects/{p}/label-issues/"),
        "annotators": lambda: client.get(f"/api/v1/projects/{p}/annotators/"),
        "annotators page": lambda: client.get(f"/projects/{p}/annotators/"),
        "review item": lambda: client.post(
            f"/api/v1/items/{i}/review/", {"labels": ["neg"]}, format="json"
        ),
        "item history": lambda: client.get(f"/api/v1/items/{i}/history/"),
        "review next": lambda: client.get(f"/api/v1/projects/{p}/review/next/"),
        "review page": lambda: client.get(f"/projects/{p}/review/"),
        "mark gold": lambda: client.post(
            f"/api/v1/items/{i}/gold/", {"labels": ["pos"]}, format="json"
        ),
        "unmark gold": lambda: client.delete(f"/api/v1/items/{i}/gold/"),
        "project page": lambda: client.get(f"/projects/{p}/"),
        "item page": lambda: client.get(f"/projects/{p}/items/{i}/"),
        "item page relabel": lambda: client.post(
            f"/projects/{p}/items/{i}/", {"action": "relabel", "labels": ["neg"]}
        ),
        "item page gold": lambda: client.post(
            f"/projects/{p}/items/{i}/", {"action": "gold", "labels": ["pos"]}
        ),
    }
    return calls[name]()


def _served_then(client: APIClient, project_id: int, call):
    client.get(f"/api/v1/projects/{project_id}/next/")
    return call()


def _state(project: Project) -> tuple:
    """What a refused request must leave untouched."""
    return (
        Project.objects.filter(id=project.id).values_list("name", flat=True).first(),
        sorted(Membership.objects.filter(project=project).values_list("user__username", "role")),
        Item.objects.filter(project=project).count(),
        Annotation.objects.count(),
        Review.objects.count(),
        Item.objects.filter(project=project, gold__isnull=False).count(),
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
    from annotation import tokens

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens.issue(user=annotator)[0]}")
    assert client.get(f"/api/v1/projects/{project.id}/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(f"/api/v1/projects/{project.id}/").status_code == 401


def test_session_writes_need_the_csrf_token(project, annotator):
    item = ItemFactory(project=project)
    client = APIClient(enforce_csrf_checks=True)
    # the login throttle counts attempts per address: authenticate() needs the request
    client.login(request=HttpRequest(), username=annotator.username, password="pw-for-tests-1")
    response = client.post(
        f"/api/v1/items/{item.id}/annotations/", {"labels": ["pos"]}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Annotation.objects.exists()


# --- the queue cannot be bypassed ------------------------------------------------------------


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _answer(client: APIClient, item_id: int, labels=("pos",)):
    return client.post(
        f"/api/v1/items/{item_id}/annotations/", {"labels": list(labels)}, format="json"
    )


def test_nobody_answers_or_skips_an_item_leased_to_someone_else(project, annotator, reviewer):
    item = ItemFactory(project=project)
    assert _client(reviewer).get(f"/api/v1/projects/{project.id}/next/").json()["id"] == item.id
    for response in (
        _answer(_client(annotator), item.id),
        _client(annotator).post(f"/api/v1/items/{item.id}/skip/", {}, format="json"),
    ):
        assert response.status_code == 409
        assert "not leased to you" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_an_answered_item_gets_no_answer_beyond_its_overlap(project, admin, annotator, reviewer):
    item = ItemFactory(project=project)
    first = _client(annotator)
    assert first.get(f"/api/v1/projects/{project.id}/next/").json()["id"] == item.id
    assert _answer(first, item.id).status_code == 201
    for user in (reviewer, admin):  # done: no lease can be had, and no answer given without
        assert _client(user).get(f"/api/v1/projects/{project.id}/next/").status_code == 204
        assert _answer(_client(user), item.id, ["neg"]).status_code == 409
    item.refresh_from_db()
    assert (item.annotation_count, Annotation.objects.count()) == (1, 1)
    exported = _client(admin).get(f"/api/v1/projects/{project.id}/export/?format=jsonl")
    assert b'"labels":["pos"]' in b"".join(exported.streaming_content)


def test_a_lease_that_ran_out_no_longer_answers(project, annotator):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.models import Lease

    item = ItemFactory(project=project)
    client = _client(annotator)
    client.get(f"/api/v1/projects/{project.id}/next/")
    Lease.objects.filter(item=item).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _answer(client, item.id).status_code == 409
    assert not Annotation.objects.exists()


def test_lowering_the_overlap_under_live_leases_never_exceeds_it(
    project, admin, annotator, reviewer
):
    project.overlap = 2
    project.save()
    item = ItemFactory(project=project)
    clients = [_client(annotator), _client(reviewer)]
    for client in clients:
        assert client.get(f"/api/v1/projects/{project.id}/next/").json()["id"] == item.id
    patched = _client(admin).patch(f"/api/v1/projects/{project.id}/", {"overlap": 1}, format="json")
    assert patched.status_code == 200
    assert _answer(clients[0], item.id).status_code == 201
    refused = _answer(clients[1], item.id)
    assert refused.status_code == 409 and "every answer it needs" in refused.json()["detail"]
    item.refresh_from_db()
    assert (item.annotation_count, item.status) == (1, "done")


def test_answer_and_undo_cannot_read_an_item_the_caller_was_never_served(project, annotator):
    """An annotator may not GET items; answering one they were not served, to undo the answer
    and be handed its data, is refused at the answer."""
    item = ItemFactory(project=project, data={"text": "confidential"})
    client = _client(annotator)
    assert client.get(f"/api/v1/items/{item.id}/").status_code == 403
    assert _answer(client, item.id).status_code == 409
    assert not Annotation.objects.filter(annotator=annotator).exists()  # nothing to undo


def test_changing_ones_own_answer_needs_no_lease_and_counts_once(project, annotator):
    item = ItemFactory(project=project)
    client = _client(annotator)
    client.get(f"/api/v1/projects/{project.id}/next/")
    assert _answer(client, item.id).status_code == 201
    assert _answer(client, item.id, ["neg"]).status_code == 201  # the person's own, changed
    item.refresh_from_db()
    assert item.annotation_count == 1
    assert list(Annotation.objects.get().labels.values_list("name", flat=True)) == ["neg"]
