"""The annotator statistics (annotation.monitoring) on hand-built answers: active time with
breaks, leave-one-out agreement, a label bias, a faster-and-sloppier trend."""

import pytest

from annotation.consensus import agreed_labels
from annotation.monitoring import (
    Answer,
    faster_and_sloppier,
    label_bias,
    leave_one_out,
    work_seconds,
    work_stats,
)

START = 1_767_600_000.0  # seconds since the epoch


def _at(seconds: float) -> float:
    return START + seconds


def _majority(answers):
    agreement = agreed_labels([labels for _, labels in answers], multi_label=False)
    return None if agreement is None or agreement.needs_review else frozenset(agreement.labels)


def test_a_break_longer_than_the_gap_starts_a_session_whose_first_answer_takes_its_lead_time():
    times = [_at(0), _at(30), _at(90), _at(90 + 3600), _at(90 + 3600 + 20)]
    leads = [12_000, 25_000, 50_000, 15_000, None]
    # the first answer: its lead time; then 30 s and 60 s; an hour's break: the lead time
    # (15 s), not the hour; then 20 s
    assert work_seconds(times, leads) == [12.0, 30.0, 60.0, 15.0, 20.0]


def test_a_session_start_without_a_lead_time_counts_nothing_and_a_long_lead_is_capped():
    times = [_at(0), _at(1000)]
    assert work_seconds(times, [None, 3_600_000]) == [0.0, 300.0]


def test_speed_is_items_over_active_hours_and_the_median_lead_time_skips_skips():
    answers = [
        Answer(n, "ann", ("pos",), False, 10_000 * (n + 1), _at(60 * n)) for n in range(3)
    ] + [Answer(9, "ann", (), True, 90_000, _at(180))]
    stats = work_stats(answers, {})
    assert stats.active_seconds == 10 + 60 + 60 + 60
    assert stats.items_per_hour == pytest.approx(4 * 3600 / 190)
    assert stats.median_lead_seconds == 20.0  # of 10, 20, 30: the skip's 90 is left out


def test_agreement_compares_each_answer_with_the_others_consensus_never_its_own():
    answers = [
        # item 1: three say pos, cat neg: each pos answer has a pos majority of the others
        Answer(1, "ann", ("pos",), False, None, _at(0)),
        Answer(1, "bob", ("pos",), False, None, _at(1)),
        Answer(1, "dan", ("pos",), False, None, _at(2)),
        Answer(1, "cat", ("neg",), False, None, _at(3)),
        # item 2: two answers that differ: each is judged against the other alone
        Answer(2, "ann", ("neg",), False, None, _at(4)),
        Answer(2, "cat", ("pos",), False, None, _at(5)),
        # item 3: ann alone (and a skip): nothing to compare with
        Answer(3, "ann", ("pos",), False, None, _at(6)),
        Answer(3, "bob", (), True, None, _at(7)),
        # item 4: pos, neg, pos: ann's and bob's others tie, so only cat is judged
        Answer(4, "ann", ("pos",), False, None, _at(8)),
        Answer(4, "cat", ("neg",), False, None, _at(9)),
        Answer(4, "bob", ("pos",), False, None, _at(10)),
    ]
    agreed = leave_one_out(answers, _majority)
    by_person = {
        who: [agreed[a] for a in answers if a.annotator == who and a in agreed]
        for who in ("ann", "bob", "cat", "dan")
    }
    assert by_person == {
        "ann": [True, False],
        "bob": [True],
        "cat": [False, False, False],
        "dan": [True],
    }


def test_an_answer_read_only_for_the_others_is_not_itself_judged():
    older = Answer(1, "bob", ("pos",), False, None, _at(0), counted=False)
    recent = Answer(1, "ann", ("pos",), False, None, _at(10))
    assert leave_one_out([older, recent], _majority) == {recent: True}


def test_a_biased_annotator_is_flagged_in_words_and_a_fair_one_is_not():
    team = {"pos": 400, "neg": 200, "neutral": 400}
    biased = label_bias({"pos": 40, "neg": 80, "neutral": 40}, team)
    assert biased.p_value is not None and biased.p_value < 0.01
    assert biased.words == (
        "answers neg 2.5 times as often as the rest of the team (50% of their labels against 20%)"
    )
    fair = label_bias({"pos": 62, "neg": 33, "neutral": 65}, team)
    assert fair.p_value is not None and fair.p_value > 0.01
    assert fair.words is None


def test_a_label_seldom_or_never_given_is_named_and_too_few_answers_are_not_tested():
    team = {"pos": 400, "neg": 400, "neutral": 200}
    seldom = label_bias({"pos": 45, "neg": 50, "neutral": 5}, team)
    assert seldom.words == "seldom answers neutral (5% of their labels against 20%)"
    never = label_bias({"pos": 50, "neg": 50}, team)
    assert never.words == "never answers neutral (0% of their labels against 20%)"
    assert label_bias({"pos": 9, "neg": 1}, team).p_value is None


def test_a_significant_but_trivial_difference_gets_no_words():
    team = {"pos": 500_000, "neg": 500_000}
    slight = label_bias({"pos": 52_000, "neg": 48_000}, team)  # 52% against 50%
    assert slight.p_value is not None and slight.p_value < 1e-6
    assert slight.words is None
    # a fair annotator beside a team one of whose ten answers "neg" most of the time: 32%
    # against 37%, significant, but not a quarter off the team's share
    beside = label_bias(
        {"pos": 680, "neg": 640, "neutral": 680}, {"pos": 5_700, "neg": 6_700, "neutral": 5_600}
    )
    assert beside.p_value is not None and beside.p_value < 0.001
    assert beside.words is None


def _crowd_answer(n: int, seconds: float, agrees: bool) -> Answer:
    return Answer(n, "ann", ("pos" if agrees else "neg",), False, 30_000, _at(seconds))


def _trend_answers(later_gap: float, later_wrong_every: int) -> tuple[list[Answer], dict]:
    """200 answers 30 s apart, all agreeing, then 200 `later_gap` apart, every
    `later_wrong_every`-th disagreeing (0: none)."""
    answers, clock = [], 0.0
    for n in range(400):
        clock += 30 if n < 200 else later_gap
        wrong = n >= 200 and later_wrong_every and n % later_wrong_every == 0
        answers.append(_crowd_answer(n, clock, not wrong))
    agreed = {a: a.labels == ("pos",) for a in answers}
    return answers, agreed


def test_getting_faster_and_sloppier_is_flagged_in_words():
    answers, agreed = _trend_answers(later_gap=15, later_wrong_every=4)
    stats = work_stats(answers, agreed)
    assert [p.answers for p in stats.trend] == [100, 200, 300, 400]
    assert [round(p.items_per_hour or 0) for p in stats.trend] == [120, 120, 240, 240]
    assert stats.trend[-1].agreement == 0.75
    assert stats.trend_words == (
        "got faster and sloppier: 240 items an hour lately against 120 at first, agreeing with "
        "the others on 75% of answers against 100%"
    )


@pytest.mark.parametrize(
    ("later_gap", "later_wrong_every"), [(15, 0), (30, 4)], ids=["only-faster", "only-sloppier"]
)
def test_faster_alone_or_sloppier_alone_is_not_flagged(later_gap, later_wrong_every):
    answers, agreed = _trend_answers(later_gap, later_wrong_every)
    assert work_stats(answers, agreed).trend_words is None


def test_a_single_window_says_nothing_about_a_trend():
    answers, agreed = _trend_answers(15, 4)
    assert faster_and_sloppier(work_stats(answers[:100], agreed).trend) is None
