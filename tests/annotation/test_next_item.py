"""Serving items: leases, overlap, skips and undo, through the API."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from annotation import queue
from annotation.models import Annotation, Item, Lease, Membership
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory, serve

pytestmark = pytest.mark.django_db


@pytest.fixture
def annotators(project):
    users = [UserFactory(username=f"annotator-{n}") for n in range(4)]
    for user in users:
        MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return users


def _client_for(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def _next(client, project):
    response = client.get(f"/api/v1/projects/{project.id}/next/")
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else None


def _label(client, item_id, labels=("pos",)):
    response = client.post(
        f"/api/v1/items/{item_id}/annotations/",
        {"labels": list(labels), "lead_time_ms": 900},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_next_leases_an_item_and_the_answer_releases_it(project, annotator):
    item = ItemFactory(project=project)
    client = _client_for(annotator)
    served = _next(client, project)
    evaluation = served.pop("evaluation")  # a random evaluation draw, or not: same item
    assert served == {"id": item.id, "external_id": None, "data": item.data, "prediction": None}
    assert evaluation == Item.objects.get(id=item.id).in_eval
    assert Lease.objects.filter(item=item, user=annotator).exists()
    _label(client, item.id)
    assert not Lease.objects.exists()
    item.refresh_from_db()
    assert (item.status, item.annotation_count) == ("done", 1)
    assert _next(client, project) is None


def test_a_leased_item_is_not_served_to_anyone_else(project, annotators):
    ItemFactory(project=project)
    first, second = (_client_for(user) for user in annotators[:2])
    assert _next(first, project) is not None
    assert _next(second, project) is None


def test_an_expired_lease_returns_the_item_to_the_pool(project, annotators):
    item = ItemFactory(project=project)
    first, second = (_client_for(user) for user in annotators[:2])
    assert _next(first, project)["id"] == item.id
    Lease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _next(second, project)["id"] == item.id


def test_overlap_two_serves_each_item_to_exactly_two_different_people(project, annotators):
    project.overlap = 2
    project.save()
    items = [ItemFactory(project=project) for _ in range(10)]
    clients = [_client_for(user) for user in annotators]
    active = list(clients)
    while active:  # round robin until everybody is told nothing is left
        for client in list(active):
            served = _next(client, project)
            if served is None:
                active.remove(client)
            else:
                _label(client, served["id"])
    for item in items:
        annotators_of = list(
            Annotation.objects.filter(item=item).values_list("annotator", flat=True)
        )
        assert len(annotators_of) == 2
        assert len(set(annotators_of)) == 2
    assert set(Item.objects.values_list("status", flat=True)) == {"done"}


def test_nobody_is_served_an_item_they_already_answered(project, annotator):
    project.overlap = 3
    project.save()
    ItemFactory(project=project)
    client = _client_for(annotator)
    _label(client, _next(client, project)["id"])
    assert _next(client, project) is None


def test_a_skipped_item_goes_to_someone_else(project, annotators):
    item = ItemFactory(project=project)
    first, second = (_client_for(user) for user in annotators[:2])
    _next(first, project)
    response = first.post(f"/api/v1/items/{item.id}/skip/", {"lead_time_ms": 300}, format="json")
    assert response.status_code == 201
    assert response.json()["skipped"] is True
    assert _next(first, project) is None
    assert _next(second, project)["id"] == item.id
    item.refresh_from_db()
    assert (item.annotation_count, item.status) == (0, "open")


def test_undo_deletes_the_answer_and_gives_the_item_back_to_its_annotator(project, annotators):
    item = ItemFactory(project=project)
    first, second = (_client_for(user) for user in annotators[:2])
    annotation = _label(first, _next(first, project)["id"])
    response = first.delete(f"/api/v1/annotations/{annotation['id']}/")
    assert response.status_code == 200
    assert response.json()["id"] == item.id
    assert not Annotation.objects.exists()
    item.refresh_from_db()
    assert (item.annotation_count, item.status) == (0, "open")
    assert _next(second, project) is None  # leased back to the first annotator
    _label(first, item.id, ["neg"])
    assert list(Annotation.objects.get().labels.values_list("name", flat=True)) == ["neg"]


def test_nobody_can_undo_someone_elses_answer(project, annotators):
    ItemFactory(project=project)
    first, second = (_client_for(user) for user in annotators[:2])
    annotation = _label(first, _next(first, project)["id"])
    assert second.delete(f"/api/v1/annotations/{annotation['id']}/").status_code == 404
    assert Annotation.objects.filter(id=annotation["id"]).exists()


def test_resubmitting_replaces_the_answer_without_counting_twice(project, annotator):
    item = ItemFactory(project=project)
    client = _client_for(annotator)
    _next(client, project)
    _label(client, item.id, ["pos"])
    _label(client, item.id, ["neg"])
    item.refresh_from_db()
    assert item.annotation_count == 1
    assert list(Annotation.objects.get().labels.values_list("name", flat=True)) == ["neg"]


def test_an_annotator_holds_at_most_three_leases_the_newest_ones(project, annotator, settings):
    assert settings.HITL_MAX_LEASES_PER_USER == 3
    for _ in range(6):
        ItemFactory(project=project)
    client = _client_for(annotator)
    served = [_next(client, project)["id"] for _ in range(5)]
    assert len(set(served[-3:])) == 3
    assert set(Lease.objects.values_list("item_id", flat=True)) == set(served[-3:])


def test_renewing_a_held_lease_keeps_the_others(project, annotator):
    for _ in range(3):
        ItemFactory(project=project)
    served = [_next(_client_for(annotator), project)["id"] for _ in range(3)]
    queue.lease(item_id=served[0], project_id=project.id, user_id=annotator.id, now=timezone.now())
    assert set(Lease.objects.values_list("item_id", flat=True)) == set(served)


@pytest.mark.parametrize(
    ("labels", "multi", "status"),
    [
        (["pos"], False, 201),
        (["pos", "neg"], False, 400),
        ([], False, 400),
        (["cat"], False, 400),
        (["pos", "neg"], True, 201),
        ([], True, 201),
        (["pos", "pos"], True, 400),
        (["pos", "cat"], True, 400),  # one known, one not: nothing of it is kept
    ],
)
def test_labels_must_fit_the_task_type(project, annotator, labels, multi, status):
    project.task_type = "multi_label" if multi else "single_label"
    project.save()
    item = ItemFactory(project=project)
    client = _client_for(annotator)
    _next(client, project)
    response = client.post(
        f"/api/v1/items/{item.id}/annotations/", {"labels": labels}, format="json"
    )
    assert response.status_code == status, response.json()
    if status == 400:
        assert response.json()["errors"][0]["field"] == "labels"
        assert not Annotation.objects.exists()
        item.refresh_from_db()
        assert (item.annotation_count, item.status) == (0, "open")


def test_unknown_fields_in_an_annotation_are_rejected(project, annotator):
    item = ItemFactory(project=project)
    response = _client_for(annotator).post(
        f"/api/v1/items/{item.id}/annotations/", {"labels": ["pos"], "lable": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lable"


def test_raising_the_overlap_reopens_done_items(api_client, project, admin, annotator):
    item = ItemFactory(project=project)
    client = _client_for(annotator)
    _next(client, project)
    _label(client, item.id)
    api_client.force_authenticate(admin)
    api_client.patch(f"/api/v1/projects/{project.id}/", {"overlap": 2}, format="json")
    item.refresh_from_db()
    assert item.status == "open"


# eval_share 1.0: every serve is an evaluation draw, the path with the most queries
@pytest.mark.parametrize("eval_share", [0.0, 1.0])
def test_next_item_query_count_does_not_grow_with_the_pool(
    project, annotator, django_assert_num_queries, eval_share
):
    project.eval_share = eval_share
    project.save()
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(500))
    client = _client_for(annotator)
    # membership with project, the queue (model order, seeds, random: one statement), the
    # lease with its re-check and the stale-lease delete (one statement on PostgreSQL, two on
    # SQLite), two test savepoints; an evaluation draw also counts the evaluation sample and
    # marks the item
    queries = (5 if connection.vendor == "postgresql" else 6) + (2 if eval_share else 0)
    with django_assert_num_queries(queries):
        assert _next(client, project) is not None


def test_submitting_an_answer_takes_a_fixed_number_of_queries(
    project, annotator, django_assert_num_queries
):
    item = ItemFactory(project=project)
    client = _client_for(annotator)
    _next(client, project)
    # item with project and role, lock with the existing answer and lease, then the writes: on
    # PostgreSQL one statement, on SQLite the answer, its label rows, the count, the
    # rankings' open flag (the item leaves the queue) and the lease (+ two test savepoints)
    queries = 5 if connection.vendor == "postgresql" else 9
    with django_assert_num_queries(queries):
        _label(client, item.id)


def _resume(client, project, shown=None):
    query = "resume=true" + (f"&shown={shown}" if shown else "")
    response = client.get(f"/api/v1/projects/{project.id}/next/?{query}")
    assert response.status_code in (200, 204), response.content
    return response.json()["id"] if response.status_code == 200 else None


def test_a_reloaded_page_is_served_the_items_its_person_holds_before_new_ones(project, annotator):
    items = [ItemFactory(project=project) for _ in range(5)]
    client = _client_for(annotator)
    first = _next(client, project)["id"]  # the page: the item on screen
    second = _next(client, project)["id"]  # and the one fetched ahead
    # reload: the same two, oldest first, and no new lease
    assert _resume(client, project) == first
    assert _resume(client, project, shown=first) == second
    assert set(Lease.objects.values_list("item_id", flat=True)) == {first, second}
    # answered, an item is not served again; the queue gives a new one after the held
    _label(client, first)
    assert _resume(client, project, shown=second) not in (first, second, None)
    assert Lease.objects.filter(user=annotator).count() == 2
    assert {i.id for i in items} >= set(Lease.objects.values_list("item_id", flat=True))


def test_a_held_item_whose_lease_ran_out_is_not_resumed(project, annotator):
    ItemFactory(project=project)
    first = _next(_client_for(annotator), project)["id"]
    now = timezone.now()
    held = queue.held_item_for(project_id=project.id, user_id=annotator.id, now=now)
    assert held is not None and held.id == first
    Lease.objects.update(expires_at=now - timedelta(seconds=1))
    assert queue.held_item_for(project_id=project.id, user_id=annotator.id, now=now) is None


FIVE = ["pos", "neg", "neutral", "mixed", "other"]


@pytest.fixture
def five_labels(annotator):
    project = ProjectFactory(labels=FIVE, eval_share=0.0)
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    return project


def test_next_serves_the_models_three_likeliest_labels_beside_its_suggestion(
    five_labels, annotator
):
    item, older = ItemFactory(project=five_labels), ItemFactory(project=five_labels)
    top = [["neg", 0.61], ["mixed", 0.22], ["pos", 0.09]]
    version = serve(five_labels, {item: (["neg"], 0.61), older: (["pos"], 0.5)}, top={item: top})
    client = _client_for(annotator)
    served = _next(client, five_labels)
    assert served["id"] == item.id
    assert served["prediction"] == {
        "labels": ["neg"],
        "confidence": 0.61,
        "version_id": version,
        "top": [
            {"label": "neg", "probability": 0.61},
            {"label": "mixed", "probability": 0.22},
            {"label": "pos", "probability": 0.09},
        ],
    }
    # a reload serves the held item with them too
    resumed = client.get(f"/api/v1/projects/{five_labels.id}/next/?resume=true").json()
    assert resumed["prediction"] == served["prediction"]
    # a ranking written without them (before they were stored): null, the rest as before
    assert _next(client, five_labels)["prediction"] == {
        "labels": ["pos"],
        "confidence": 0.5,
        "version_id": version,
        "top": None,
    }


def test_a_gold_item_comes_with_the_models_top_labels_as_any_item(five_labels, annotator):
    five_labels.gold_share = 1.0
    five_labels.save()
    gold = ItemFactory(project=five_labels, gold=["pos"])
    serve(
        five_labels,
        {gold: (["neg"], 0.5)},
        top={gold: [["neg", 0.5], ["pos", 0.4], ["other", 0.1]]},
    )
    served = _next(_client_for(annotator), five_labels)
    assert served["id"] == gold.id
    assert [each["label"] for each in served["prediction"]["top"]] == ["neg", "pos", "other"]


def test_a_project_that_hides_suggestions_serves_no_top_labels(five_labels, annotator):
    five_labels.show_predictions = False
    five_labels.save()
    item = ItemFactory(project=five_labels)
    serve(
        five_labels,
        {item: (["neg"], 0.7)},
        top={item: [["neg", 0.7], ["pos", 0.2], ["other", 0.1]]},
    )
    assert _next(_client_for(annotator), five_labels)["prediction"] is None
