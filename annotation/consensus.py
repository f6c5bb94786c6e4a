"""An item's agreed labels from its annotators' answers: the one rule that the export, the
pages and the engine's training share. Pure Python over numpy, no Django (the fitted model
is passed in: annotation.judging loads and refits it).

Two methods:
- majority vote: single-label, the label most annotators chose, when one label leads;
  multi-label, each label more than half of them chose. A tie (two labels lead; a label
  chosen by exactly half) is no agreement: the item stays out of training and is marked for
  review, because picking a side would teach the model a coin toss. Its confidence is the
  share of answers behind the decision (the least sure label's, multi-label).
- Dawid-Skene (single-label): the answers read through each annotator's estimated confusion
  matrix (annotation.truth), the label with the highest posterior; its confidence is that
  posterior. Below UNSURE the item is marked for review as a tie is.
"""

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from annotation import truth

Label = TypeVar("Label", bound=Hashable)
MAJORITY, DAWID_SKENE, VERDICT, GOLD = "majority", "dawid_skene", "review", "gold"
UNSURE = 0.5  # a Dawid-Skene posterior below this is no agreement
# `auto` consensus: Dawid-Skene once this many items have two answers or more (fewer cannot
# tell a careful annotator from a careless one)
AUTO_MIN_ITEMS = 50
# How far the serving model's stated confidence is believed when it is counted beside the
# people (model_evidence). bench/bench_dynamic_overlap.py, 3 seeds of digits and texts: at 1,
# 61-63% of a fixed overlap's answers, -0.2 to +3.0 points; at 0.75, 62-65%, +0.4 to +2.3
# (never below the fixed overlap); the people alone 78-83%, -1.6 to +1.1.
MODEL_WEIGHT = 0.75


@dataclass(frozen=True)
class Agreement(Generic[Label]):
    """What an item's answers agree on: `labels` (sorted; empty on a tie), whether they
    tie or are too unsure to use (`needs_review`), how sure the method is (0-1), and which
    method (or a reviewer's verdict, or the item's gold labels) decided."""

    labels: list[Label]
    needs_review: bool
    confidence: float = 1.0
    method: str = MAJORITY


def agreed_labels(
    answers: Sequence[Sequence[Label]], *, multi_label: bool
) -> Agreement[Label] | None:
    """The majority's agreement of the given answers (each the labels one annotator chose;
    skips left out), or None when there is none to judge."""
    if not answers:
        return None
    votes = Counter(label for answer in answers for label in set(answer))
    if multi_label:
        half = len(answers) / 2
        agreed = sorted(label for label, n in votes.items() if n > half)  # type: ignore[type-var]
        sure = min((max(n, len(answers) - n) / len(answers) for n in votes.values()), default=1)
        return Agreement(agreed, any(n == half for n in votes.values()), sure)
    if not votes:
        return None
    most = max(votes.values())
    leaders = [label for label, n in votes.items() if n == most]
    if len(leaders) > 1:
        return Agreement([], needs_review=True, confidence=most / len(answers))
    return Agreement(leaders, needs_review=False, confidence=most / len(answers))


@dataclass(frozen=True)
class FittedTruth:
    """A project's Dawid-Skene estimate as annotation.truth fitted it: the matrices' label
    order, each annotator's row, their confusion matrices and the labels' priors."""

    labels: list[str]
    annotators: Mapping[str, int]  # annotator key: row of `confusion`
    confusion: np.ndarray
    priors: np.ndarray

    def agreement(
        self,
        answers: Sequence[tuple[str, Sequence[str]]],
        *,
        evidence: Mapping[str, float] | None = None,
    ) -> Agreement[str] | None:
        """The posterior of one item's (annotator key, labels) answers. An annotator the
        fit has not met is read through the crowd's average matrix; a label the fit has not
        met (added since) leaves the item to the majority. `evidence`: a likelihood per label
        from outside the crowd (model_evidence), multiplied in."""
        answers = [(who, chosen) for who, chosen in answers if chosen]
        if not answers:
            return None
        column = {name: n for n, name in enumerate(self.labels)}
        if any(chosen[0] not in column for _, chosen in answers):
            return agreed_labels([chosen for _, chosen in answers], multi_label=False)
        average = len(self.confusion)  # the extra row: the crowd's average matrix
        matrices = np.concatenate([self.confusion, self.confusion.mean(axis=0, keepdims=True)])
        posterior = truth.item_posteriors(
            np.zeros(len(answers), dtype=int),
            np.array([self.annotators.get(who, average) for who, _ in answers]),
            np.array([column[chosen[0]] for _, chosen in answers]),
            matrices,
            self.priors,
            n_items=1,
        )[0]
        if evidence is not None:
            posterior = posterior * np.array([evidence.get(name, 0.0) for name in self.labels])
            posterior = posterior / posterior.sum()
        best = int(posterior.argmax())
        sure = float(posterior[best])
        return Agreement([self.labels[best]], sure < UNSURE, sure, DAWID_SKENE)


def model_evidence(
    labels: Sequence[str], predicted: str, confidence: float, *, weight: float = MODEL_WEIGHT
) -> dict[str, float] | None:
    """The serving model's prediction as a likelihood per label, for the decision to ask for
    another answer: its confidence on the predicted label, the rest spread evenly over the
    others, tempered by `weight` (1: taken at its word; 0: ignored) because a model trained
    on the crowd's own labels is not independent of them and is often overconfident. None
    when the prediction names no label of these."""
    if predicted not in labels or len(labels) < 2:
        return None
    sure = min(max(confidence, 1 / len(labels)), 1 - 1e-6)
    other = (1 - sure) / (len(labels) - 1)
    return {name: (sure if name == predicted else other) ** weight for name in labels}


def settled(labels: Sequence[Label], method: str) -> Agreement[Label]:
    """Labels that are the item's truth whatever its answers say (a verdict, gold)."""
    return Agreement(list(labels), needs_review=False, confidence=1.0, method=method)


def wants_another(
    agreement: Agreement | None,
    *,
    answers: int,
    minimum: int,
    maximum: int,
    threshold: float,
    informed: Agreement | None = None,
) -> bool:
    """Whether an item with `answers` real answers, agreeing as `agreement` says, asks for one
    more: below the minimum always; at the maximum never; between them while the consensus is
    unsure (a tie, or less confident than `threshold`). A lone answer is its own majority and
    proves nothing, so under majority vote an item gets two, and a third where they disagree;
    under Dawid-Skene one answer can do, from someone who is seldom wrong. `informed`: the
    same posterior with the serving model's prediction as evidence (model_evidence); it
    decides how sure the item is, but only when it names the crowd's own labels: the model
    never outvotes the people, it only lets their agreement with it count."""
    if answers < minimum:
        return True
    if answers >= maximum:
        return False
    if agreement is None or agreement.needs_review:
        return True
    if agreement.method == MAJORITY and answers == 1:
        return True  # a lone answer is its own majority: no evidence of agreement yet
    if informed is not None:
        return informed.labels != agreement.labels or informed.confidence < threshold
    return agreement.confidence < threshold


def in_agreement_sample(item_id: int, share: float) -> bool:
    """Whether the item is among the `share` of items that always get two answers: a fixed
    draw per item (a multiplicative hash of its id), independent of the serving order, so the
    sample is the same on every call and spread over the whole pool."""
    return ((item_id * 2_654_435_761) % 2**32) / 2**32 < share
