"""Stopping rules on made-up model histories."""

import numpy as np

from models_service.ml.stopping import (
    LabelBudget,
    Round,
    StabilizingPredictions,
    TargetMetric,
    changed_share,
    labels_to_go,
)

STOP_SET = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])


def _round(labels, metric=None, flips=None, evaluated=100):
    predictions = STOP_SET.copy()
    for index in flips or []:
        predictions[index] = (predictions[index] + 1) % 3
    return Round(labels, metric, stop_set_predictions=predictions, evaluated=evaluated)


def test_label_budget_stops_when_spent():
    rule = LabelBudget(budget=100)
    assert not rule.decide([_round(60)]).stop
    decision = rule.decide([_round(60), _round(100)])
    assert decision.stop and "budget of 100" in decision.reason


def test_target_metric_reads_the_latest_evaluated_round():
    rule = TargetMetric(target=0.9)
    assert rule.decide([]).reason == "no evaluation yet"
    assert not rule.decide([_round(10, 0.95), _round(20, 0.85)]).stop
    assert rule.decide([_round(10, 0.85), _round(20, 0.91), _round(30, None)]).stop


def test_target_metric_waits_for_enough_evaluation_items():
    rule = TargetMetric(target=0.9, min_evaluated=50)
    early = rule.decide([_round(40, 1.0, evaluated=4)])  # four of four right
    assert not early.stop
    assert early.reason == (
        "the metric is 1.000 on 4 evaluation items; the target is judged on at least 50"
    )
    assert rule.decide([_round(40, 1.0, evaluated=4), _round(900, 0.92, evaluated=50)]).stop


def test_stabilizing_predictions_needs_k_agreeing_comparisons_in_a_row():
    rule = StabilizingPredictions(threshold=0.99, rounds=3)
    changing = [
        _round(10, flips=[0, 1, 2]),
        _round(20, flips=[3]),
        _round(30),
        _round(40),
        _round(50),
    ]
    decision = rule.decide(changing)
    assert not decision.stop  # rounds 20->30, 30->40, 40->50: 2 agree after the flip at 20
    assert "stable for 2 of 3" in decision.reason
    decision = rule.decide([*changing, _round(60)])
    assert decision.stop
    assert decision.reason.startswith("stable for 3 rounds")


def test_a_disagreement_resets_the_streak():
    rule = StabilizingPredictions(threshold=0.99, rounds=2)
    history = [_round(10), _round(20), _round(30), _round(40, flips=[5])]
    assert not rule.decide(history).stop
    assert rule.decide([*history, _round(50, flips=[5]), _round(60, flips=[5])]).stop


def test_stabilizing_predictions_with_fewer_than_two_models_waits():
    assert (
        StabilizingPredictions().decide([_round(10)]).reason == "fewer than two models to compare"
    )


def test_the_changed_share_compares_the_two_newest_models_on_the_stop_set():
    assert changed_share([_round(10)]) is None
    assert changed_share([_round(10, flips=[0, 1, 2, 3]), _round(20, flips=[0])]) == 0.3


def test_a_budget_counts_down_the_labels_left():
    assert labels_to_go(LabelBudget(budget=100), [_round(60)]).labels == 40
    assert labels_to_go(LabelBudget(budget=100), [_round(120)]).labels == 0


def test_a_target_is_reached_where_the_fitted_log_curve_says():
    # accuracy = 0.5 + 0.1 ln(labels / 10): 0.9 at 10 e^4 = 546 labels
    history = [_round(n, 0.5 + 0.1 * np.log(n / 10)) for n in (20, 40, 80, 160)]
    estimate = labels_to_go(TargetMetric(target=0.9), history)
    assert estimate.labels == 546 - 160


def test_a_target_is_not_estimated_from_small_samples_or_a_flat_curve():
    small = [_round(n, 0.5 + 0.1 * np.log(n)) for n in (20, 40, 80)]
    assert labels_to_go(TargetMetric(target=0.99), small, min_evaluated=200).labels is None
    flat = [_round(n, 0.6) for n in (20, 40, 80, 160)]
    estimate = labels_to_go(TargetMetric(target=0.9), flat)
    assert estimate.labels is None and "not improving" in estimate.reason
    far = [_round(n, 0.5 + 0.001 * np.log(n)) for n in (20, 40, 80, 160)]
    assert "beyond 20 times" in labels_to_go(TargetMetric(target=0.9), far).reason


def _changing(shares: dict[int, float], size: int = 1000) -> list[Round]:
    """Rounds at the given label counts whose predictions differ from the round before on the
    given share of the stop set (two labels, half each)."""
    predictions, history = np.arange(size) % 2, [Round(10, None, np.arange(size) % 2)]
    for labels, share in shares.items():
        predictions = predictions.copy()
        predictions[: int(round(share * size))] ^= 1
        history.append(Round(labels, None, stop_set_predictions=predictions))
    return history


def test_the_stabilizing_rule_extrapolates_the_changed_share_then_adds_its_stable_rounds():
    history = _changing({n: 8 / n for n in (40, 80, 120, 160)})  # share = 8 / labels
    rule = StabilizingPredictions(threshold=0.99, rounds=3)
    estimate = labels_to_go(rule, history)
    # chance agreement about 0.5 (the flips move it a little), so the share must reach about
    # 0.005: at 8 / 0.005 = 1,600 labels; then three rounds of 40 labels (the median step)
    assert estimate.labels is not None
    assert abs(estimate.labels - (1600 - 160 + 3 * 40)) <= 20


def test_a_stable_model_has_only_its_stable_rounds_to_go():
    history = _changing({40: 0.2, 80: 0.1, 120: 0.0})
    estimate = labels_to_go(StabilizingPredictions(threshold=0.99, rounds=3), history)
    assert estimate.labels == 3 * 40 and estimate.reason.startswith("stable now")
