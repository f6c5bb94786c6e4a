"""Stopping rules: when more labels no longer pay.

Each rule reads the history of model rounds (oldest first) and answers with a decision and a
sentence an admin can read.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from models_service.ml.arrays import IndexArray


@dataclass(frozen=True)
class Round:
    """One trained model: how many labels it saw, its evaluation metric (None before there is
    an evaluation sample) and on how many items, and its predictions on the fixed stop set."""

    labels: int
    metric: float | None
    stop_set_predictions: IndexArray | None = None
    evaluated: int = 0  # the evaluation items the metric was measured on


@dataclass(frozen=True)
class Decision:
    stop: bool
    reason: str


@dataclass(frozen=True)
class LabelBudget:
    """Stop once `budget` labels are spent."""

    budget: int

    def decide(self, rounds: list[Round]) -> Decision:
        spent = rounds[-1].labels if rounds else 0
        if spent >= self.budget:
            return Decision(True, f"the budget of {self.budget} labels is spent ({spent} used)")
        return Decision(False, f"{spent} of {self.budget} labels used")


@dataclass(frozen=True)
class TargetMetric:
    """Stop once the evaluation metric reaches `target`, measured on at least `min_evaluated`
    items: on a handful of evaluation draws a lucky streak reads as 1.0 (five items all right
    would have stopped a project at its first rounds)."""

    target: float
    min_evaluated: int = 50

    def decide(self, rounds: list[Round]) -> Decision:
        latest = next((r for r in reversed(rounds) if r.metric is not None), None)
        if latest is None or latest.metric is None:  # never None there: said for mypy
            return Decision(False, "no evaluation yet")
        measured = f"the metric is {latest.metric:.3f} on {latest.evaluated} evaluation items"
        if latest.evaluated < self.min_evaluated:
            return Decision(
                False, f"{measured}; the target is judged on at least {self.min_evaluated}"
            )
        if latest.metric >= self.target:
            return Decision(True, f"{measured}, at or above the target {self.target:.3f}")
        return Decision(False, f"{measured}; the target is {self.target:.3f}")


@dataclass(frozen=True)
class StabilizingPredictions:
    """Stop when successive models agree on the stop set (Cohen's kappa >= `threshold`) for
    `rounds` comparisons in a row: the model has stopped changing its mind."""

    threshold: float = 0.99
    rounds: int = 3

    def decide(self, history: list[Round]) -> Decision:
        """From the newest comparison back to the first below the threshold only: a
        project's history grows by a version every few labels, and comparing all of it took
        0.2 s of every round at 48 versions."""
        predictions = [
            r.stop_set_predictions for r in history if r.stop_set_predictions is not None
        ]
        if len(predictions) < 2:
            return Decision(False, "fewer than two models to compare")
        streak, last = 0, None
        for newer in range(len(predictions) - 1, 0, -1):
            kappa = _kappa(predictions[newer - 1], predictions[newer])
            last = kappa if last is None else last
            if kappa < self.threshold:
                break
            streak += 1
        if streak >= self.rounds:
            return Decision(
                True,
                f"stable for {streak} rounds (kappa >= {self.threshold}): "
                "more labels are unlikely to help",
            )
        return Decision(
            False, f"stable for {streak} of {self.rounds} rounds (last kappa {last:.3f})"
        )


def _kappa(a: IndexArray, b: IndexArray) -> float:
    if np.array_equal(a, b):
        return 1.0  # identical predictions, even a single class, are full agreement
    from sklearn.metrics import cohen_kappa_score  # here: the web lists rules without sklearn

    return float(cohen_kappa_score(a, b))


Rule = LabelBudget | TargetMetric | StabilizingPredictions


KINDS = {"stabilizing": StabilizingPredictions, "budget": LabelBudget, "target": TargetMetric}
KIND_TITLES = {
    "stabilizing": "Predictions stable for N rounds",
    "budget": "Label budget",
    "target": "Target accuracy on the evaluation sample",
}
# The one number each kind is usually given (the settings page asks for just that one).
KIND_VALUE_KEYS = {"stabilizing": "rounds", "budget": "labels", "target": "metric"}
# Each kind's settings: the spec's key, the rule's field, its type and bounds (inclusive).
_SETTINGS: dict[str, dict[str, tuple[str, type[int] | type[float], float, float]]] = {
    "stabilizing": {
        "threshold": ("threshold", float, 0.0, 1.0),
        "rounds": ("rounds", int, 1, 100),
    },
    "budget": {"labels": ("budget", int, 1, 10_000_000)},
    "target": {"metric": ("target", float, 0.0, 1.0)},
}
_REQUIRED = {"budget": "labels", "target": "metric"}


class SpecError(ValueError):
    """A stopping rule's spec that describes no rule; `key` names the part at fault."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def rule_from_spec(spec: dict[str, Any] | None, *, eval_sample_size: int = 500) -> Rule:
    """The rule a project's spec describes: {"kind": "stabilizing", "threshold", "rounds"},
    {"kind": "budget", "labels"} or {"kind": "target", "metric"}; empty, the stabilizing rule
    with its defaults. A target is judged on 50 evaluation items, or on the whole sample where
    the project keeps fewer. Raises SpecError naming the key at fault."""
    spec = dict(spec or {})
    kind = spec.pop("kind", "stabilizing")
    if kind not in KINDS:
        raise SpecError("kind", f"kind must be one of {', '.join(KINDS)}")
    if (needed := _REQUIRED.get(kind)) and needed not in spec:
        raise SpecError(needed, f"required for kind {kind}")
    arguments: dict[str, float] = {}
    for key, value in spec.items():
        if key not in _SETTINGS[kind]:
            raise SpecError(key, f"not a setting of kind {kind}")
        name, kind_of, low, high = _SETTINGS[kind][key]
        arguments[name] = _number(key, value, kind_of, low, high)
    if kind == "target":
        enough = min(TargetMetric.min_evaluated, max(1, eval_sample_size))
        arguments["min_evaluated"] = enough
    rule: Rule = KINDS[kind](**arguments)
    return rule


def _number(
    key: str, value: object, kind_of: type[int] | type[float], low: float, high: float
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(key, "must be a number")
    if kind_of is int and value != int(value):
        raise SpecError(key, "must be a whole number")
    if not low <= value <= high:
        raise SpecError(key, f"must be between {low:g} and {high:g}")
    return kind_of(value)


@dataclass(frozen=True)
class Estimate:
    """How many more labels the rule is likely to want (None: no estimate), and why."""

    labels: int | None
    reason: str


# A curve fitted on fewer points than this says nothing; beyond this many times the labels so
# far, the extrapolation is not worth a number.
ESTIMATE_MIN_POINTS, ESTIMATE_MAX_FACTOR, ESTIMATE_RECENT = 3, 20, 8
# A fitted slope this close to 0 is a flat curve: least squares over equal values returns
# round-off (1e-17, either sign, by BLAS build) rather than 0.
FLAT_SLOPE = 1e-9


def changed_share(history: list[Round]) -> float | None:
    """The share of the stop set whose predicted label changed between the two newest models
    (None before two models predicted it): "changing its mind on 1 in 5 items"."""
    predictions = [r.stop_set_predictions for r in history if r.stop_set_predictions is not None]
    if len(predictions) < 2 or len(predictions[-1]) == 0:
        return None
    return float(np.mean(np.asarray(predictions[-1]) != np.asarray(predictions[-2])))


def labels_to_go(
    rule: Rule, history: list[Round], *, stopped: bool = False, min_evaluated: int = 30
) -> Estimate:
    """Labels until the rule would stop at the current learning rate: a budget counts down; a
    target extrapolates the evaluation accuracy, fitted as a + b·ln(labels) over the recent
    rounds measured on at least `min_evaluated` items; the stabilizing rule extrapolates the
    share of changed predictions, fitted as a power of the labels, to the share at which
    kappa reaches the threshold. Rough by nature: said as such where it is shown. `stopped`:
    the rule's decision on the newest round (the history may be only the recent rounds)."""
    spent = history[-1].labels if history else 0
    if isinstance(rule, LabelBudget):
        return Estimate(max(0, rule.budget - spent), f"{rule.budget} labels is the budget")
    if stopped:
        return Estimate(0, "the rule says stop")
    if isinstance(rule, TargetMetric):
        points = [
            (r.labels, r.metric)
            for r in history
            if r.metric is not None and r.evaluated >= min_evaluated and r.labels > 0
        ]
        return _extrapolate(points[-ESTIMATE_RECENT:], rule.target, spent, "accuracy", log_y=False)
    predictions = [
        (r.labels, r.stop_set_predictions) for r in history if r.stop_set_predictions is not None
    ]
    shares = [
        (labels, float(np.mean(np.asarray(newer) != np.asarray(older))))
        for (_, older), (labels, newer) in zip(predictions, predictions[1:], strict=False)
        if len(newer) and labels > 0
    ]
    if not predictions:
        return Estimate(None, "no model has predicted the stop set yet")
    latest = np.asarray(predictions[-1][1])
    by_chance = float(np.sum((np.bincount(latest) / max(1, len(latest))) ** 2))
    # kappa >= t  <=>  changed share <= (1 - t)(1 - chance agreement), for the same mix of labels
    target = (1 - rule.threshold) * (1 - by_chance)
    # then `rule.rounds` stable rounds in a row, a round every so many labels as of late
    steps = np.diff([labels for labels, _ in predictions[-ESTIMATE_RECENT:]])
    stable_rounds = rule.rounds * (int(np.median(steps)) if len(steps) else 0)
    if shares and shares[-1][1] <= target:
        return Estimate(stable_rounds, f"stable now; {rule.rounds} stable rounds in a row stop")
    changing = [(labels, share) for labels, share in shares if share > 0][-ESTIMATE_RECENT:]
    estimate = _extrapolate(changing, target, spent, "changed share", log_y=True)
    if estimate.labels is None:
        return estimate
    return Estimate(estimate.labels + stable_rounds, estimate.reason)


def _extrapolate(
    points: list[tuple[int, float]], target: float, spent: int, what: str, *, log_y: bool
) -> Estimate:
    if len({labels for labels, _ in points}) < ESTIMATE_MIN_POINTS:
        return Estimate(None, f"too few rounds to fit the {what}")
    x = np.log([labels for labels, _ in points])
    y = np.array([value for _, value in points])
    if log_y:
        y, target = np.log(y), float(np.log(max(target, 1e-6)))
    slope, intercept = np.polyfit(x, y, 1)
    improving = slope < -FLAT_SLOPE if log_y else slope > FLAT_SLOPE
    if not improving:
        return Estimate(None, f"the {what} is not improving with more labels")
    needed = float(np.exp((target - intercept) / slope))
    if needed > ESTIMATE_MAX_FACTOR * max(spent, 1):
        return Estimate(
            None, f"beyond {ESTIMATE_MAX_FACTOR} times the labels so far at the current rate"
        )
    return Estimate(
        max(0, int(np.ceil(needed - spent))), f"the {what} fitted over {len(points)} rounds"
    )
