"""Dynamic overlap: an item collects answers past its overlap while its consensus is unsure,
up to `max_overlap`, one person at a time; an agreement sample gets two answers even at
overlap 1 (annotation.services, annotation.consensus.wants_another)."""

import json

import pytest
from django.utils import timezone

from annotation import consensus, queue, services
from annotation.models import Item, Membership, Project, TruthModel
from tests.factories import MembershipFactory, UserFactory, answer, serve

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(project):
    return [
        MembershipFactory(
            project=project, user=UserFactory(username=f"p{n}"), role=Membership.Role.ANNOTATOR
        ).user
        for n in range(4)
    ]


def _status(item) -> str:
    return Item.objects.get(id=item.id).status


def _served(project, user):
    return services.next_item_for(project=Project.objects.get(id=project.id), user=user)


def test_two_disagreeing_answers_ask_a_third_person_and_three_close_the_item(project, people):
    project.overlap, project.max_overlap, project.consensus = 2, 3, "majority"
    project.save()
    agreed, split = (Item.objects.create(project=project, data={"text": t}) for t in "ab")
    answer(agreed, people[0], ["pos"])
    answer(agreed, people[1], ["pos"])
    answer(split, people[0], ["pos"])
    answer(split, people[1], ["neg"])
    assert _status(agreed) == "done"
    assert _status(split) == "open"
    assert _served(project, people[0]) is None  # answered both: never served again
    third = _served(project, people[2])
    assert third.id == split.id
    assert _served(project, people[3]) is None  # one more person at a time
    answer(split, people[2], ["neg"])
    assert _status(split) == "done"  # max_overlap reached


def test_without_max_overlap_a_tie_closes_the_item_as_before(project, people):
    project.overlap = 2
    project.save()
    item = Item.objects.create(project=project, data={"text": "a"})
    answer(item, people[0], ["pos"])
    answer(item, people[1], ["neg"])
    assert _status(item) == "done"


def test_the_agreement_sample_gets_two_answers_at_overlap_one(project, people):
    project.agreement_sample = 0.5
    project.save()
    items = Item.objects.bulk_create(
        Item(project=project, data={"text": f"t{n}"}) for n in range(40)
    )
    for item in items:
        answer(item, people[0], ["pos"])
    sampled = [i for i in items if consensus.in_agreement_sample(i.id, 0.5)]
    assert 10 < len(sampled) < 30
    assert {i.id for i in items if _status(i) == "open"} == {i.id for i in sampled}
    for item in sampled:
        answer(item, people[1], ["pos"])
    assert {_status(i) for i in items} == {"done"}


def test_dawid_skene_asks_again_after_an_often_wrong_annotator_not_a_careful_one(project, people):
    project.max_overlap, project.consensus, project.consensus_threshold = 3, "dawid_skene", 0.9
    project.save()
    labels = ["pos", "neg", "neutral"]

    def matrix(accuracy):
        wrong = (1 - accuracy) / 2
        return [[accuracy if t == a else wrong for a in range(3)] for t in range(3)]

    TruthModel.objects.create(
        project=project,
        labels=labels,
        annotators={"p0": 0, "p1": 1},
        confusion=[matrix(0.98), matrix(0.6)],
        priors=[1 / 3] * 3,
        items=100,
        fitted_at=timezone.now(),
    )
    careful, sloppy = (Item.objects.create(project=project, data={"text": t}) for t in "ab")
    answer(careful, people[0], ["pos"])
    answer(sloppy, people[1], ["pos"])
    assert _status(careful) == "done"
    assert _status(sloppy) == "open"


def _matrix(accuracy: float) -> list[list[float]]:
    wrong = (1 - accuracy) / 2
    return [[accuracy if t == a else wrong for a in range(3)] for t in range(3)]


def test_the_serving_models_agreement_lets_one_fair_answer_do_and_its_doubt_asks_again(
    project, people
):
    """p0 is right 80% of the time: alone, a 0.8 posterior, below the 0.9 threshold. Beside a
    model 90% sure of the same label the item is sure enough; against a model sure of
    another label it asks again (the model never outvotes the people)."""
    project.max_overlap, project.consensus, project.consensus_threshold = 3, "dawid_skene", 0.9
    project.save()
    TruthModel.objects.create(
        project=project,
        labels=["pos", "neg", "neutral"],
        annotators={"p0": 0},
        confusion=[_matrix(0.8)],
        priors=[1 / 3] * 3,
        items=100,
        fitted_at=timezone.now(),
    )
    agreeing, doubted, unranked = (
        Item.objects.create(project=project, data={"text": t}) for t in "abc"
    )
    serve(project, {agreeing: (["pos"], 0.9), doubted: (["neg"], 0.95)})
    for item in (agreeing, doubted, unranked):
        answer(item, people[0], ["pos"])
    assert _status(agreeing) == "done"
    assert _status(doubted) == "open"
    assert _status(unranked) == "open"  # no prediction: the people alone, 0.8


def test_model_evidence_spreads_the_doubt_over_the_other_labels():
    evidence = consensus.model_evidence(["pos", "neg", "neutral"], "neg", 0.8, weight=1)
    assert evidence == pytest.approx({"pos": 0.1, "neg": 0.8, "neutral": 0.1})
    assert consensus.model_evidence(["pos", "neg"], "gone", 0.9) is None  # a removed label
    tempered = consensus.model_evidence(["pos", "neg"], "pos", 0.9, weight=0.5)
    assert tempered == pytest.approx({"pos": 0.9**0.5, "neg": 0.1**0.5})


@pytest.mark.parametrize(
    ("informed_labels", "informed_confidence", "expected"),
    [(["pos"], 0.95, False), (["pos"], 0.7, True), (["neg"], 0.99, True)],
)
def test_an_informed_posterior_decides_only_when_it_names_the_peoples_labels(
    informed_labels, informed_confidence, expected
):
    people_say = consensus.Agreement(["pos"], False, 0.8, consensus.DAWID_SKENE)
    informed = consensus.Agreement(
        informed_labels, False, informed_confidence, consensus.DAWID_SKENE
    )
    wanted = consensus.wants_another(
        people_say, answers=1, minimum=1, maximum=3, threshold=0.9, informed=informed
    )
    assert wanted is expected


def test_a_max_overlap_below_the_overlap_is_refused_naming_it(api_client, project, admin):
    api_client.force_authenticate(admin)
    response = api_client.patch(
        f"/api/v1/projects/{project.id}/",
        json.dumps({"overlap": 3, "max_overlap": 2}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "max_overlap"


@pytest.mark.parametrize(
    ("answers", "confidence", "expected"),
    [(1, 1.0, True), (2, 0.95, False), (2, 0.6, True), (3, 0.6, False)],
)
def test_wants_another_between_the_minimum_and_the_maximum(answers, confidence, expected):
    agreement = consensus.Agreement(["pos"], needs_review=False, confidence=confidence)
    wanted = consensus.wants_another(
        agreement, answers=answers, minimum=2, maximum=3, threshold=0.9
    )
    assert wanted is expected


def test_the_queue_serves_a_reopened_item_to_one_person_at_a_time(project, people):
    project.overlap, project.max_overlap = 1, 2
    project.save()
    item = Item.objects.create(project=project, data={"text": "a"})
    Item.objects.filter(id=item.id).update(annotation_count=1)  # open at its overlap
    now = timezone.now()
    first = queue.next_item_for(project_id=project.id, overlap=1, user_id=people[0].id, now=now)
    second = queue.next_item_for(project_id=project.id, overlap=1, user_id=people[1].id, now=now)
    assert first.id == item.id and second is None


def test_under_majority_a_lone_answer_asks_for_a_second(project, people):
    """One answer is its own majority and proves nothing: with room for more, it gets two."""
    project.overlap, project.max_overlap, project.consensus = 1, 3, "majority"
    project.save()
    item = Item.objects.create(project=project, data={"text": "a"})
    answer(item, people[0], ["pos"])
    assert _status(item) == "open"
    answer(item, people[1], ["pos"])
    assert _status(item) == "done"
