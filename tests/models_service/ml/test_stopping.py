"""Stopping rules on made-up model histories."""

import numpy as np

from models_service.ml.stopping import LabelBudget, Round, StabilizingPredictions, TargetMetric

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
