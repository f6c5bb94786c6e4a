import pytest

from annotation.models import Label, Membership, Project

pytestmark = pytest.mark.django_db


def test_creating_a_project_makes_the_caller_its_admin_with_default_shortcuts(api_client, outsider):
    api_client.force_authenticate(outsider)
    response = api_client.post(
        "/api/v1/projects/",
        {"name": "Sentiment", "labels": ["pos", "neg", {"name": "mixed", "color": "#112233"}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["task_type"] == "single_label"
    assert body["overlap"] == 1
    assert [(label["name"], label["shortcut"]) for label in body["labels"]] == [
        ("pos", "1"),
        ("neg", "2"),
        ("mixed", "3"),
    ]
    assert body["labels"][2]["color"] == "#112233"
    role = Membership.objects.get(project_id=body["id"], user=outsider).role
    assert role == Membership.Role.ADMIN


def test_project_list_shows_only_the_callers_projects(api_client, project, annotator, outsider):
    api_client.force_authenticate(annotator)
    names = [p["name"] for p in api_client.get("/api/v1/projects/").json()]
    assert names == [project.name]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "labels": ["a"], "colour": "red"}, "colour"),
        ({"name": "x", "labels": []}, "labels"),
        ({"name": "x", "labels": ["a"], "task_type": "boxes"}, "task_type"),
        ({"name": "x", "labels": ["a"], "overlap": 0}, "overlap"),
        ({"name": "x", "labels": ["a", "a"]}, "labels"),
        ({"name": "x", "labels": [{"name": "a", "hotkey": "q"}]}, "labels.0.hotkey"),
        ({"labels": ["a"]}, "name"),
    ],
)
def test_bad_project_requests_name_the_field_and_create_nothing(
    api_client, outsider, payload, field
):
    api_client.force_authenticate(outsider)
    before = Project.objects.count()
    response = api_client.post("/api/v1/projects/", payload, format="json")
    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]]
    assert Project.objects.count() == before


def test_admin_patch_replaces_labels_and_overlap(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.patch(
        f"/api/v1/projects/{project.id}/",
        {"labels": ["neg", "pos", "other"], "overlap": 2, "instructions": "Read twice."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert list(project.labels.values_list("name", "shortcut")) == [
        ("neg", "1"),
        ("pos", "2"),
        ("other", "3"),
    ]
    project.refresh_from_db()
    assert (project.overlap, project.instructions) == (2, "Read twice.")


# each label-quality setting: a value it takes, and one it refuses
QUALITY_SETTINGS = [
    ("max_overlap", 3, 0),
    ("consensus", "dawid_skene", "vote"),
    ("consensus_threshold", 0.8, 0.4),
    ("agreement_sample", 0.1, 1.5),
    ("gold_share", 0.1, 0.6),
    ("review_sample", 0.05, -0.1),
    ("label_issue_cap", 50, -1),
    ("anonymize_reviews", True, "maybe"),
    ("hourly_cost", "18.50", "-3"),
]


@pytest.mark.parametrize(("field", "good", "bad"), QUALITY_SETTINGS)
def test_patch_takes_each_label_quality_setting_and_refuses_a_bad_one_naming_it(
    api_client, project, admin, field, good, bad
):
    api_client.force_authenticate(admin)
    url = f"/api/v1/projects/{project.id}/"
    response = api_client.patch(url, {field: good}, format="json")
    assert response.status_code == 200, response.json()
    assert str(response.json()[field]) == str(good)
    response = api_client.patch(url, {field: bad}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert str(api_client.get(url).json()[field]) == str(good)  # the bad value changed nothing


def test_removing_a_label_in_use_is_refused_and_changes_nothing(
    api_client, project, admin, annotator
):
    from tests.factories import ItemFactory, answer

    answer(ItemFactory(project=project), annotator, ["neutral"])
    api_client.force_authenticate(admin)
    response = api_client.patch(
        f"/api/v1/projects/{project.id}/", {"labels": ["pos", "neg"]}, format="json"
    )
    assert response.status_code == 409
    assert "neutral" in response.json()["detail"]
    assert Label.objects.filter(project=project, name="neutral").exists()


def test_adding_a_member_by_username(api_client, project, admin):
    from tests.factories import MembershipFactory, UserFactory

    newcomer = UserFactory(username="newcomer")
    colleagues = MembershipFactory(user=admin).project  # the admin works with them there
    MembershipFactory(project=colleagues, user=newcomer)
    api_client.force_authenticate(admin)
    response = api_client.post(
        f"/api/v1/projects/{project.id}/members/",
        {"username": "newcomer", "role": "reviewer"},
        format="json",
    )
    assert response.status_code == 201
    assert Membership.objects.get(project=project, user=newcomer).role == "reviewer"
    unknown = api_client.post(
        f"/api/v1/projects/{project.id}/members/",
        {"username": "nobody", "role": "reviewer"},
        format="json",
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "username"


def test_the_last_admin_cannot_leave(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.delete(f"/api/v1/projects/{project.id}/members/{admin.id}/")
    assert response.status_code == 409
    assert Membership.objects.filter(project=project, user=admin, role="admin").exists()


@pytest.mark.parametrize("key", ["s", "A", "x", "M", "e", "/"])
def test_a_label_shortcut_that_is_a_labelling_page_key_is_refused(api_client, outsider, key):
    api_client.force_authenticate(outsider)
    body = {"name": "Keys", "labels": [{"name": "spam", "shortcut": key}]}
    response = api_client.post("/api/v1/projects/", body, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "labels"
    assert "the labelling page's own key" in error["message"]
