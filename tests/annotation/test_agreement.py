"""Agreement measures against the worked examples they are taught with (annotation.agreement)."""

import math

import pytest

from annotation.agreement import (
    MIN_SHARED_ITEMS,
    nominal_alpha,
    pairwise,
    percent_agreement,
    project_agreement,
)

# Krippendorff's "C" data (Krippendorff 2011, "Computing Krippendorff's alpha-reliability";
# also the example of R's irr::kripp.alpha): 4 coders, 12 units, None where a coder gave no
# value. Published: nominal alpha = 0.743.
C_DATA = [
    [1, 1, None, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [None, 5, 5, 5],
    [None, None, 1, 1],
    [None, None, 3, None],
]


def _units(rows):
    return [[value for value in row if value is not None] for row in rows]


def test_alpha_reproduces_krippendorffs_published_nominal_value():
    alpha = nominal_alpha(_units(C_DATA))
    assert round(alpha.value, 3) == 0.743
    assert alpha.items == 11  # the last unit has one value: it says nothing about agreement
    assert alpha.low < alpha.value < alpha.high <= 1


def test_the_bootstrap_interval_is_the_same_for_the_same_answers_and_narrows_with_more():
    assert nominal_alpha(_units(C_DATA)) == nominal_alpha(_units(C_DATA))
    few = nominal_alpha(_units(C_DATA))
    many = nominal_alpha(_units(C_DATA) * 20)
    assert many.high - many.low < few.high - few.low


def test_perfect_agreement_is_one_and_one_value_only_is_no_judgement():
    assert nominal_alpha([["a", "a"], ["b", "b"], ["a", "a", "a"]]).value == 1.0
    assert nominal_alpha([["a", "a"], ["a", "a"]]).value is None
    assert nominal_alpha([["a"], ["b"]]).items == 0


def test_cohens_kappa_reproduces_a_published_two_by_two_example():
    """50 grant proposals read by two readers: 20 both yes, 15 both no, 5 yes/no, 10 no/yes.
    p_o = 0.7, p_e = 0.5, kappa = 0.4: the worked example of the Wikipedia article "Cohen's
    kappa" (a reference text, not Cohen's 1960 paper, whose tables we could not check here)."""
    pairs = [("yes", "yes")] * 20 + [("no", "no")] * 15 + [("yes", "no")] * 5 + [("no", "yes")] * 10
    answers = {
        "a": {n: first for n, (first, _) in enumerate(pairs)},
        "b": {n: second for n, (_, second) in enumerate(pairs)},
    }
    (pair,) = pairwise(answers)
    assert (pair.first, pair.second, pair.shared_items) == ("a", "b", 50)
    assert math.isclose(pair.kappa, 0.4)
    assert math.isclose(pair.percent_agreement, 0.7)


def test_a_pair_with_few_shared_items_gets_no_kappa_but_its_raw_agreement():
    few = MIN_SHARED_ITEMS - 1
    answers = {"a": dict.fromkeys(range(few), "x"), "b": dict.fromkeys(range(few), "y")}
    (pair,) = pairwise(answers)
    assert pair.kappa is None and pair.percent_agreement == 0.0


def test_percent_agreement_counts_agreeing_pairs_per_item():
    # item 1: all three agree (1.0); item 2: one pair of three agrees (1/3)
    assert math.isclose(percent_agreement([["a"] * 3, ["a", "a", "b"]]), (1 + 1 / 3) / 2)


@pytest.mark.parametrize("multi_label", [False, True])
def test_project_agreement_judges_each_label_as_a_binary_decision(multi_label):
    answers = []
    for item in range(30):
        truth = "pos" if item % 2 else "neg"
        answers += [(item, "ann", frozenset([truth])), (item, "bob", frozenset([truth]))]
        # carl reads "neutral" where the others read neg, a third of the time
        carl = "neutral" if truth == "neg" and item % 3 == 0 else truth
        answers.append((item, "carl", frozenset([carl])))
    result = project_agreement(
        answers, labels=["pos", "neg", "neutral"], multi_label=multi_label, draws=50
    )
    assert result.items == 30
    assert result.per_label["pos"][0].value == 1.0  # nobody disagrees on pos
    assert result.per_label["neg"][0].value < 1.0
    assert 0 < result.alpha.value < 1
    kappas = {(p.first, p.second): p.kappa for p in result.pairs}
    assert kappas[("ann", "bob")] == 1.0 and kappas[("ann", "carl")] < 1.0


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
def answered(project, annotator, admin):
    """Twelve items of overlap 2 answered by both: they agree on all but the last two."""
    from annotation.models import Item
    from tests.factories import answer

    project.overlap = 2
    project.save()
    for n in range(12):
        item = Item.objects.create(project=project, data={"text": f"item {n}"})
        answer(item, annotator, ["pos" if n % 2 else "neg"])
        answer(item, admin, ["neutral" if n >= 10 else "pos" if n % 2 else "neg"])
    Item.objects.create(project=project, data={"text": "answered once"})
    return project


@pytest.mark.django_db
def test_the_agreement_api_gives_alpha_kappa_and_raw_agreement(api_client, answered, reviewer):
    api_client.force_authenticate(reviewer)
    body = api_client.get(f"/api/v1/projects/{answered.id}/agreement/").json()
    assert body["items"] == 12
    assert 0 < body["alpha"]["value"] < 1
    assert body["alpha"]["low"] <= body["alpha"]["value"] <= body["alpha"]["high"]
    assert body["percent_agreement"] == pytest.approx(10 / 12)
    (pair,) = body["pairs"]
    assert pair["annotators"] == ["alice-admin", "ann-annotator"]
    assert pair["shared_items"] == 12 and 0 < pair["kappa"] < 1
    per_label = {row["label"]: row for row in body["per_label"]}
    assert per_label["neutral"]["percent_agreement"] == pytest.approx(10 / 12)


@pytest.mark.django_db
def test_an_annotator_may_not_read_the_agreement_it_names_people(api_client, answered, annotator):
    api_client.force_authenticate(annotator)
    assert api_client.get(f"/api/v1/projects/{answered.id}/agreement/").status_code == 403
