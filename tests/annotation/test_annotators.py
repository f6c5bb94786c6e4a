"""GET /projects/{id}/annotators/ and the annotators page: each annotator's figures for a small
crowd whose answers, times and flags are known."""

from datetime import UTC, datetime, timedelta

import pytest

from annotation import annotators, gold, judging, selectors
from annotation.models import Annotation, Item, TruthModel
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer, skip

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# item: (ann, bob, cat); None is a skip
ANSWERS = [("pos", "pos", "pos")] * 4 + [("pos", "pos", "neg"), ("neg", "neg", None)]
# seconds after START of each person's answers, in item order: bob takes an hour's break
TIMES = {
    "ann": [0, 60, 120, 180, 240, 300],
    "bob": [0, 30, 60, 3660, 3690, 3720],
    "cat": [5, 65, 125, 185, 245, 305],
}


@pytest.fixture
def crowd(project):
    """ann, bob and cat answer six items of overlap 3 (cat skips the last); ann flags item 4
    ambiguous, bob item 5 as needing an expert; items 0 (pos) and 4 (neg) are gold."""
    project.overlap = 3
    project.save()
    people = {}
    for name in TIMES:
        people[name] = UserFactory(username=name)
        MembershipFactory(project=project, user=people[name], role="annotator")
    items = [Item.objects.create(project=project, data={"text": f"item {n}"}) for n in range(6)]
    for n, (item, given) in enumerate(zip(items, ANSWERS, strict=True)):
        for name, label in zip(TIMES, given, strict=True):
            flags = {
                "ambiguous": name == "ann" and n == 4,
                "needs_expert": name == "bob" and n == 5,
            }
            if label is None:
                done = skip(item, people[name], reason="unclear", lead_time_ms=4_000)
            else:
                done = answer(item, people[name], [label], lead_time_ms=(n + 1) * 1_000, **flags)
            at = START + timedelta(seconds=TIMES[name][n])
            Annotation.objects.filter(id=done.id).update(created_at=at)
    gold.mark(item=items[0], labels=["pos"])
    gold.mark(item=items[4], labels=["neg"])
    return project


def _report(api_client, project, user) -> dict:
    api_client.force_authenticate(user)
    response = api_client.get(f"/api/v1/projects/{project.id}/annotators/")
    assert response.status_code == 200, response.content
    return response.json()


def test_each_annotator_gets_counts_speed_agreement_gold_and_label_shares(
    api_client, crowd, reviewer
):
    body = _report(api_client, crowd, reviewer)
    people = {person["username"]: person for person in body["annotators"]}
    assert list(people) == ["ann", "bob", "cat"]
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    assert (ann["answers"], ann["skips"], ann["ambiguous"], ann["needs_expert"]) == (6, 0, 1, 0)
    assert (bob["needs_expert"], cat["answers"], cat["skips"]) == (1, 5, 1)
    assert cat["skip_reasons"] == {"unclear": 1}
    # ann: her first answer's lead time (1 s), then five gaps of 60 s
    assert ann["active_hours"] == round(301 / 3600, 3)
    assert ann["items_per_hour"] == round(6 * 3600 / 301, 1)
    # bob: 1 s, 30 s, 30 s; after the break item 3's lead time (4 s), then 30 s, 30 s
    assert bob["active_hours"] == round(125 / 3600, 3)
    assert ann["median_lead_time_s"] == 3.5  # 1-6 s
    # leave-one-out: on item 4 ann's and bob's others tie (pos, neg); cat's others say pos
    assert (ann["agreement"], ann["agreement_answers"]) == (1.0, 5)
    assert (cat["agreement"], cat["agreement_answers"]) == (0.8, 5)
    assert (ann["gold_right"], ann["gold_answered"], ann["gold_accuracy"]) == (1, 2, 0.5)
    assert (cat["gold_right"], cat["gold_answered"]) == (2, 2)
    assert ann["label_shares"] == {"pos": 0.8333, "neg": 0.1667, "neutral": 0.0}
    assert ann["estimated_accuracy"] is None  # no fit yet
    assert ann["bias_p_value"] is None and ann["bias"] is None  # too few answers to test
    assert [point["answers"] for point in ann["trend"]] == [6]
    assert body["method"] == "majority"
    assert (body["answers_read"], body["answers_total"]) == (18, 18)
    # 14 pos and 3 neg among the 17 real answers
    assert body["label_shares"] == {"pos": 0.8235, "neg": 0.1765, "neutral": 0.0}


def test_with_a_dawid_skene_fit_each_annotator_gets_its_estimated_accuracy(
    api_client, crowd, admin
):
    crowd.consensus = "dawid_skene"
    crowd.save()
    judging.refit(crowd, selectors.multiply_answered(crowd))
    expected = judging.estimated_accuracy(TruthModel.objects.get(project=crowd))
    body = _report(api_client, crowd, admin)
    assert body["method"] == "dawid_skene"
    model = TruthModel.objects.get(project=crowd)
    for person in body["annotators"]:
        assert person["estimated_accuracy"] == round(expected[person["username"]], 4)
        matrix = person["estimated_confusion"]  # true label -> answered label -> chance
        assert list(matrix) == model.labels and all(
            list(row) == model.labels for row in matrix.values()
        )
        assert all(abs(sum(row.values()) - 1) < 1e-3 for row in matrix.values())
        right = sum(
            matrix[label][label] * prior
            for label, prior in zip(model.labels, model.priors, strict=True)
        )
        assert right == pytest.approx(person["estimated_accuracy"], abs=1e-3)


def test_the_page_draws_each_annotators_confusion_matrix_once_fitted(client, crowd, admin):
    client.force_login(admin)
    assert 'id="confusion"' not in client.get(f"/projects/{crowd.id}/annotators/").content.decode()
    crowd.consensus = "dawid_skene"
    crowd.save()
    judging.refit(crowd, selectors.multiply_answered(crowd))
    page = client.get(f"/projects/{crowd.id}/annotators/").content.decode()
    for name in TIMES:
        assert f'<table class="confusion" data-annotator="{name}">' in page
    assert "true ↓ answered →" in page and 'class="shade-' in page


def test_only_the_latest_answers_are_read_for_time_but_counts_cover_all(crowd):
    report = annotators.annotator_report(crowd, recent=3)
    assert (report["answers_read"], report["answers_total"]) == (3, 18)
    assert sum(person["answers"] + person["skips"] for person in report["annotators"]) == 18


def test_an_annotator_may_not_read_the_report_it_names_people(api_client, crowd, annotator):
    api_client.force_authenticate(annotator)
    assert api_client.get(f"/api/v1/projects/{crowd.id}/annotators/").status_code == 403


def test_a_project_without_answers_has_no_annotators(api_client, project, admin):
    body = _report(api_client, project, admin)
    assert body["annotators"] == [] and body["answers_total"] == 0


def _grow(project, people: int) -> None:
    """Another `people` annotators, each answering two items of their own."""
    for n in range(people):
        user = UserFactory(username=f"extra{n}")
        MembershipFactory(project=project, user=user, role="annotator")
        for _ in range(2):
            answer(Item.objects.create(project=project, data={"text": "more"}), user, ["neg"])


def test_the_query_count_does_not_grow_with_the_annotators(
    api_client, crowd, admin, django_assert_num_queries
):
    api_client.force_authenticate(admin)
    url = f"/api/v1/projects/{crowd.id}/annotators/"
    # access (1), counts, label counts, the latest answers, the judge's fit, gold, Dawid-
    # Skene's fit, the labels' order
    with django_assert_num_queries(8):
        assert len(api_client.get(url).json()["annotators"]) == 3
    _grow(crowd, 5)
    with django_assert_num_queries(8):
        assert len(api_client.get(url).json()["annotators"]) == 8


def test_the_page_shows_the_table_and_the_plots_data(client, crowd, reviewer):
    client.force_login(reviewer)
    response = client.get(f"/projects/{crowd.id}/annotators/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in TIMES:
        assert f'data-annotator="{name}"' in page
    assert 'id="scatter"' in page and 'id="annotators-data"' in page
    assert "unclear 1" in page
    assert "Nothing stands out" in page  # too few answers for a test or a trend
    # agreement beyond chance comes after, from the API (annotators.js)
    assert f'data-url="/api/v1/projects/{crowd.id}/agreement/"' in page


def test_agreement_is_read_in_words_and_says_when_too_few_items_have_two_answers(
    api_client, project, admin, annotator, crowd
):
    api_client.force_authenticate(admin)
    body = api_client.get(f"/api/v1/projects/{crowd.id}/agreement/").json()
    assert body["items"] == 6 and body["alpha"]["value"] is not None
    assert body["words"].startswith("The team agrees")
    alone = ProjectFactory(labels=["pos", "neg"])
    MembershipFactory(project=alone, user=admin, role="admin")
    MembershipFactory(project=alone, user=annotator, role="annotator")
    answer(Item.objects.create(project=alone, data={"text": "alone"}), annotator, ["pos"])
    body = api_client.get(f"/api/v1/projects/{alone.id}/agreement/").json()
    assert body["words"] == "Too few items with two answers or more to judge agreement yet."


def test_the_project_page_links_reviewers_to_the_annotators_page(client, crowd, reviewer):
    client.force_login(reviewer)
    page = client.get(f"/projects/{crowd.id}/").content.decode()
    assert f'href="/projects/{crowd.id}/annotators/"' in page
