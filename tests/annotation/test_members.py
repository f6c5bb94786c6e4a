"""Adding a member tells the caller no more than whether it worked for a user they may see:
staff see everyone, anyone else the people they share a project with. A stranger's name and
a name nobody has get the same answer, so no one probes which usernames exist (anyone may
create a project and so become the admin who adds members)."""

import re

import pytest
from rest_framework.test import APIClient

from annotation.models import Membership
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _add(caller, project, username: str, role: str = "annotator"):
    client = APIClient()
    client.force_authenticate(caller)
    body = {"username": username, "role": role}
    return client.post(f"/api/v1/projects/{project.id}/members/", body, format="json")


@pytest.fixture
def own_project():
    """A project its creator, who shares no project with anyone, administers."""
    creator = UserFactory(username="newcomer-admin")
    project = ProjectFactory()
    MembershipFactory(project=project, user=creator, role=Membership.Role.ADMIN)
    return project, creator


def test_a_stranger_and_a_name_nobody_has_get_the_same_answer(own_project):
    project, creator = own_project
    UserFactory(username="existing-stranger")
    stranger = _add(creator, project, "existing-stranger")
    nobody = _add(creator, project, "no-such-person")
    assert stranger.status_code == nobody.status_code == 400
    assert stranger.json()["errors"][0]["field"] == "username"
    assert _anonymised(stranger.content, "existing-stranger") == _anonymised(
        nobody.content, "no-such-person"
    )
    assert not Membership.objects.filter(user__username="existing-stranger").exists()


def test_the_page_gives_the_same_answer_for_both(client, own_project):
    project, creator = own_project
    UserFactory(username="existing-stranger")
    client.force_login(creator)
    url = f"/projects/{project.id}/settings/"
    answers = {}
    for name in ("existing-stranger", "no-such-person"):
        page = client.post(url, {"action": "member", "username": name, "role": "annotator"})
        assert page.status_code == 400
        errors = re.findall(rb'<span class="error">(.*?)</span>', page.content)
        answers[name] = [_anonymised(error, name) for error in errors]
    assert answers["existing-stranger"] == answers["no-such-person"] != []
    assert not Membership.objects.filter(user__username="existing-stranger").exists()


def _anonymised(content: bytes, username: str) -> bytes:
    return content.replace(username.encode(), b"NAME")


def test_an_admin_adds_someone_they_share_a_project_with(own_project):
    project, creator = own_project
    colleague = UserFactory(username="colleague")
    shared = ProjectFactory()
    MembershipFactory(project=shared, user=creator, role=Membership.Role.ANNOTATOR)
    MembershipFactory(project=shared, user=colleague, role=Membership.Role.ANNOTATOR)
    response = _add(creator, project, "colleague", "reviewer")
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=colleague).role == "reviewer"


def test_staff_add_anyone(own_project):
    project, _ = own_project
    staff = UserFactory(username="staff-member", is_staff=True)
    MembershipFactory(project=project, user=staff, role=Membership.Role.ADMIN)
    UserFactory(username="existing-stranger")
    assert _add(staff, project, "existing-stranger").status_code == 201


def test_changing_a_members_role_works_they_are_in_the_project(project, admin, annotator):
    assert _add(admin, project, annotator.username, "reviewer").status_code == 201
    assert Membership.objects.get(project=project, user=annotator).role == "reviewer"


def test_someone_outside_the_project_learns_nothing_either(project, outsider):
    """Before any username is looked at, a non-member gets the project's 404."""
    assert _add(outsider, project, "ann-annotator").status_code == 404
