"""Gold items (annotation.gold): admins mark known labels; a share of serves comes from gold
items each annotator has not seen, past the overlap; accuracy on gold is kept per person."""

import json
import random

import pytest
from django.utils import timezone

from annotation import gold, selectors, services
from annotation.models import Item, LabelIssue, Membership, Project
from models_service.rounds.data import training_data
from tests.factories import MembershipFactory, UserFactory, answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(project):
    return [
        MembershipFactory(
            project=project, user=UserFactory(username=f"g{n}"), role=Membership.Role.ANNOTATOR
        ).user
        for n in range(3)
    ]


def _post(api_client, user, item, body):
    api_client.force_authenticate(user)
    return api_client.post(
        f"/api/v1/items/{item.id}/gold/", json.dumps(body), content_type="application/json"
    )


def test_an_admin_marks_and_unmarks_gold_through_the_api(api_client, project, admin):
    item = Item.objects.create(project=project, data={"text": "known"})
    response = _post(api_client, admin, item, {"labels": ["neg"]})
    assert response.status_code == 200 and response.json()["gold"] == ["neg"]
    assert api_client.delete(f"/api/v1/items/{item.id}/gold/").json()["gold"] is None
    assert Item.objects.get(id=item.id).gold is None


@pytest.mark.parametrize(("body", "field"), [({"labels": ["cat"]}, "labels"), ({}, "labels")])
def test_bad_gold_labels_are_a_400_naming_the_field(api_client, project, admin, body, field):
    item = Item.objects.create(project=project, data={"text": "known"})
    response = _post(api_client, admin, item, body)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field
    assert Item.objects.get(id=item.id).gold is None


def test_marking_gold_resolves_the_items_open_label_issues_as_a_verdict_does(
    api_client, project, admin
):
    item = Item.objects.create(project=project, data={"text": "doubted"})
    other = Item.objects.create(project=project, data={"text": "still doubted"})
    issues = [
        LabelIssue.objects.create(
            item=each, label="pos", suggested="neg", self_confidence=0.01, found_at=timezone.now()
        )
        for each in (item, other)
    ]
    assert _post(api_client, admin, item, {"labels": ["neg"]}).status_code == 200
    resolved = {issue.item_id: issue.resolved_by for issue in LabelIssue.objects.all()}
    assert resolved == {item.id: "alice-admin", other.id: ""}  # the other stays open
    assert LabelIssue.objects.get(id=issues[0].id).resolved_at is not None
    assert LabelIssue.objects.get(id=issues[1].id).resolved_at is None


def test_a_reviewer_may_not_mark_gold(api_client, project, reviewer):
    item = Item.objects.create(project=project, data={"text": "known"})
    assert _post(api_client, reviewer, item, {"labels": ["neg"]}).status_code == 403


def test_gold_is_served_to_everyone_past_the_overlap_once_each(project, people):
    project.gold_share = 0.5
    project.save()
    known = Item.objects.create(project=project, data={"text": "known"}, gold=["pos"])
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(30))
    project = Project.objects.get(id=project.id)
    for person in people:
        served = []
        for _ in range(31):
            item = services.next_item_for(project=project, user=person)
            served.append(item.id)
            services.skip_item(item=Item.objects.get(id=item.id), annotator=person)
        assert served.count(known.id) == 1  # once each, though its overlap of 1 is reached
    for person in people:
        answer(known, person, ["pos" if person != people[2] else "neg"])
    assert gold.accuracy_on_gold(project) == {"g0": (1, 1), "g1": (1, 1), "g2": (0, 1)}
    assert Item.objects.get(id=known.id).annotation_count == 3


def test_about_gold_share_of_serves_come_from_gold_unannounced(api_client, project, people):
    """200 serves with gold_share 0.2 from 50 gold items among 500: gold is 20% of them (a
    binomial's 40 +- 15, over 3.5 standard deviations), never one seen before, and nothing in
    what the annotator is sent says which ones."""
    random.seed(26)  # the serving draw's generator: the same run each time
    project.gold_share = 0.2
    project.save()
    Item.objects.bulk_create(
        Item(project=project, data={"text": f"known {n}"}, gold=["pos"]) for n in range(50)
    )
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(500))
    gold_ids = set(Item.objects.filter(gold__isnull=False).values_list("id", flat=True))
    project = Project.objects.get(id=project.id)
    served = []
    for _ in range(200):
        item = services.next_item_for(project=project, user=people[0])
        served.append(item.id)
        services.submit_annotation(
            item=Item.objects.get(id=item.id), annotator=people[0], labels=["pos"]
        )
    on_gold = [item_id for item_id in served if item_id in gold_ids]
    assert 25 <= len(on_gold) <= 55
    assert len(set(on_gold)) == len(on_gold)  # never the same gold item twice
    assert gold.accuracy_on_gold(project)["g0"] == (len(on_gold), len(on_gold))
    api_client.force_authenticate(people[1])
    for _ in range(10):
        body = api_client.get(f"/api/v1/projects/{project.id}/next/").json()
        assert set(body) == {"id", "external_id", "data", "prediction", "evaluation"}
        skipped = api_client.post(f"/api/v1/items/{body['id']}/skip/", {}, format="json")
        assert skipped.status_code == 201


def test_gold_labels_train_once_whatever_the_answers_say(project, people):
    known = Item.objects.create(project=project, data={"text": "known"}, gold=["neutral"])
    other = Item.objects.create(project=project, data={"text": "other"})
    answer(other, people[0], ["pos"])
    data = training_data(project)
    assert sorted(data.train.ids) == [known.id, other.id]
    targets = dict(zip(data.train.ids, data.train.targets, strict=True))
    assert targets[known.id] == 2  # neutral, the third label


def test_the_data_browser_finds_gold_items(project):
    known = Item.objects.create(project=project, data={"text": "known"}, gold=["pos"])
    Item.objects.create(project=project, data={"text": "other"})
    page = selectors.browse(project, selectors.ItemFilter(flag="gold"))
    assert [row["id"] for row in page.items] == [known.id]
    assert page.items[0]["flags"] == ["gold"]
