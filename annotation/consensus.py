"""An item's agreed labels from its annotators' answers: the one rule that the export and the
engine's training share. Pure Python, no Django: the label-quality work (truth inference)
replaces the rule here and both follow.

The rule: single-label, the label most annotators chose, when one label leads; multi-label,
each label more than half of them chose. A tie (two labels lead; a label chosen by exactly
half) is no agreement: the item stays out of training and is marked for review, because
picking a side would teach the model a coin toss (before this rule, the export held both
labels of a 1-1 split while training silently took the first).
"""

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Label = TypeVar("Label", bound=Hashable)


@dataclass(frozen=True)
class Agreement(Generic[Label]):
    """What an item's answers agree on: `labels` (sorted; empty on a tie) and whether they
    tie (`needs_review`)."""

    labels: list[Label]
    needs_review: bool


def agreed_labels(
    answers: Sequence[Sequence[Label]], *, multi_label: bool
) -> Agreement[Label] | None:
    """The agreement of the given answers (each the labels one annotator chose; skips left
    out), or None when there is none to judge."""
    if not answers:
        return None
    votes = Counter(label for answer in answers for label in set(answer))
    if multi_label:
        half = len(answers) / 2
        agreed = sorted(label for label, n in votes.items() if n > half)  # type: ignore[type-var]
        return Agreement(agreed, needs_review=any(n == half for n in votes.values()))
    if not votes:
        return None
    most = max(votes.values())
    leaders = [label for label, n in votes.items() if n == most]
    if len(leaders) > 1:
        return Agreement([], needs_review=True)
    return Agreement(leaders, needs_review=False)
