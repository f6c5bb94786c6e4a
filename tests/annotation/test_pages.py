"""The browser pages, through Django's test client: access, forms, escaping."""

import pytest

from annotation.models import Label, Membership, Project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/", "/projects/new/", "/projects/1/label/", "/projects/1/settings/"]
)
def test_pages_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_logs_in_and_lists_the_users_projects(client, project, annotator, outsider):
    response = client.post(
        "/login/", {"username": annotator.username, "password": "pw-for-tests-1"}
    )
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert project.name in page
    assert "Settings" not in page  # annotators do not see the admin link


@pytest.mark.parametrize("suffix", ["label", "settings"])
def test_a_non_member_gets_404(client, project, outsider, suffix):
    client.force_login(outsider)
    assert client.get(f"/projects/{project.id}/{suffix}/").status_code == 404


@pytest.mark.parametrize("who", ["annotator", "reviewer"])
def test_only_admins_open_settings(client, project, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/projects/{project.id}/settings/").status_code == 403
    assert client.get(f"/projects/{project.id}/label/").status_code == 200


def test_admin_changes_settings_through_the_form(client, project, admin):
    client.force_login(admin)
    response = client.post(
        f"/projects/{project.id}/settings/",
        {
            "action": "settings",
            "name": "Renamed",
            "task_type": "single_label",
            "overlap": 3,
            "instructions": "Be careful.",
            "labels": "pos|p|#00aa00\nneg\nneutral|n",
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.overlap, project.instructions) == ("Renamed", 3, "Be careful.")
    assert list(project.labels.values_list("name", "shortcut", "color")) == [
        ("pos", "p", "#00aa00"),
        ("neg", "2", "#f58518"),
        ("neutral", "n", "#54a24b"),
    ]


def test_bad_settings_show_the_error_and_change_nothing(client, project, admin):
    client.force_login(admin)
    response = client.post(
        f"/projects/{project.id}/settings/",
        {
            "action": "settings",
            "name": "Renamed",
            "task_type": "single_label",
            "overlap": 1,
            "labels": "pos|toolong",
        },
    )
    assert response.status_code == 400
    assert "a shortcut is one key" in response.content.decode()
    project.refresh_from_db()
    assert project.name != "Renamed"


def test_admin_adds_and_removes_members(client, project, admin):
    from tests.factories import MembershipFactory, UserFactory

    newcomer = UserFactory(username="newbie")
    colleagues = MembershipFactory(user=admin).project  # the admin works with newbie there
    MembershipFactory(project=colleagues, user=newcomer)
    client.force_login(admin)
    url = f"/projects/{project.id}/settings/"
    assert (
        client.post(url, {"action": "member", "username": "newbie", "role": "reviewer"}).status_code
        == 302
    )
    assert Membership.objects.get(project=project, user=newcomer).role == "reviewer"
    assert client.post(url, {"action": "remove", "user_id": newcomer.id}).status_code == 302
    assert not Membership.objects.filter(project=project, user=newcomer).exists()
    refused = client.post(url, {"action": "member", "username": "ghost", "role": "annotator"})
    assert refused.status_code == 400
    assert "no user named" in refused.content.decode()


def test_the_last_admin_cannot_remove_themselves_from_the_page(client, project, admin):
    client.force_login(admin)
    url = f"/projects/{project.id}/settings/"
    response = client.post(url, {"action": "remove", "user_id": admin.id}, follow=True)
    assert "a project needs at least one admin" in response.content.decode()
    assert Membership.objects.filter(project=project, user=admin, role="admin").exists()


def test_new_project_form_creates_a_project_with_its_labels(client, outsider):
    client.force_login(outsider)
    response = client.post(
        "/projects/new/",
        {
            "name": "Topics",
            "task_type": "multi_label",
            "overlap": 2,
            "labels": "a\nb\nc",
        },
    )
    assert response.status_code == 302
    project = Project.objects.get(name="Topics")
    assert project.is_multi_label and project.overlap == 2
    assert list(Label.objects.filter(project=project).values_list("name", flat=True)) == [
        "a",
        "b",
        "c",
    ]


def test_new_project_form_with_a_duplicate_label_creates_nothing(client, outsider):
    client.force_login(outsider)
    before = Project.objects.count()
    response = client.post(
        "/projects/new/", {"name": "X", "task_type": "single_label", "overlap": 1, "labels": "a\na"}
    )
    assert response.status_code == 200
    assert "listed twice" in response.content.decode()
    assert Project.objects.count() == before


def test_instructions_and_label_names_are_escaped(client, project, admin):
    project.instructions = "<script>alert('x')</script>"
    project.save()
    Label.objects.filter(project=project, name="pos").update(name="<b>pos</b>")
    client.force_login(admin)
    page = client.get(f"/projects/{project.id}/label/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    assert "<b>pos</b>" not in page.split('id="project-config"')[0]


def test_forms_are_protected_by_csrf(project, admin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(
        f"/projects/{project.id}/settings/", {"action": "remove", "user_id": admin.id}
    )
    assert response.status_code == 403


SETTINGS_FORM = {
    "action": "settings",
    "name": "Renamed",
    "task_type": "single_label",
    "overlap": 1,
    "labels": "pos\nneg\nneutral",
}


@pytest.mark.parametrize("box", ["show_predictions", "anonymize_reviews"])
def test_the_settings_page_posts_its_checkboxes_unticked(client, project, admin, box):
    """A browser sends nothing for an unticked box: the page's hidden "false" of the same
    name, before the box, is what tells it from a post that leaves the setting out."""
    client.force_login(admin)
    url = f"/projects/{project.id}/settings/"
    page = client.get(url).content.decode()
    hidden = f'<input type="hidden" name="{box}" value="false">'
    assert hidden in page
    assert page.index(hidden) < page.index(f'type="checkbox" name="{box}"')

    assert client.post(url, {**SETTINGS_FORM, box: "false"}).status_code == 302
    project.refresh_from_db()
    assert getattr(project, box) is False
    assert client.post(url, {**SETTINGS_FORM, box: ["false", "on"]}).status_code == 302
    project.refresh_from_db()
    assert getattr(project, box) is True
    assert client.post(url, SETTINGS_FORM).status_code == 302  # left out: kept
    project.refresh_from_db()
    assert getattr(project, box) is True


def test_a_new_project_can_start_without_suggestions(client, outsider):
    client.force_login(outsider)
    form = {**SETTINGS_FORM, "name": "Quiet", "show_predictions": "false"}
    del form["action"]
    assert client.post("/projects/new/", form).status_code == 302
    assert Project.objects.get(name="Quiet").show_predictions is False
