"""How far annotators agree beyond chance: Krippendorff's alpha (nominal, any number of
annotators, missing answers allowed) with a bootstrap interval, Cohen's kappa per pair of
annotators, and raw percent agreement beside them (labelled as such: it counts the agreement
chance alone would give). Pure Python over numpy, scikit-learn and `krippendorff`; no Django.

Multi-label answers are judged per label, as binary decisions (chose it or not); a single-
label task gets one alpha over its labels and, per label, the same binary view, so that a
team sees which label its people read differently.
"""

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np

BOOTSTRAP_DRAWS = 200
MIN_SHARED_ITEMS = 10  # a pair's kappa over fewer shared items says little


@dataclass(frozen=True)
class Alpha:
    """Krippendorff's alpha and its 95% bootstrap interval (None: nothing to judge, e.g.
    fewer than two answers on every item, or one value only)."""

    value: float | None
    low: float | None
    high: float | None
    items: int  # items with two answers or more: what alpha reads


@dataclass(frozen=True)
class PairAgreement:
    first: str
    second: str
    shared_items: int
    kappa: float | None  # None: fewer than MIN_SHARED_ITEMS, or no variation to judge
    percent_agreement: float


def value_counts(units: Sequence[Sequence[Hashable]]) -> tuple[np.ndarray, list[Hashable]]:
    """The units' answers as counts (units x values) over the values seen, for alpha; units
    with fewer than two answers are left out (they say nothing about agreement)."""
    paired = [unit for unit in units if len(unit) >= 2]
    values = sorted({value for unit in paired for value in unit}, key=repr)
    column = {value: n for n, value in enumerate(values)}
    counts = np.zeros((len(paired), len(values)))
    for row, unit in enumerate(paired):
        for value in unit:
            counts[row, column[value]] += 1
    return counts, values


def nominal_alpha(
    units: Sequence[Sequence[Hashable]], *, draws: int = BOOTSTRAP_DRAWS, seed: int = 0
) -> Alpha:
    """Alpha of the values each unit (item) got, one per annotator, with the 2.5th and 97.5th
    percentiles of alpha over `draws` resamples of the units (a seeded bootstrap: the same
    answers give the same interval)."""
    counts, values = value_counts(units)
    if len(counts) == 0 or len(values) < 2:
        return Alpha(None, None, None, len(counts))
    value = _alpha(counts)
    rng = np.random.default_rng(seed)
    resampled = [_alpha(counts[rng.integers(0, len(counts), len(counts))]) for _ in range(draws)]
    finite = [alpha for alpha in resampled if alpha is not None]
    if not finite:
        return Alpha(value, None, None, len(counts))
    low, high = np.percentile(finite, [2.5, 97.5])
    return Alpha(value, float(low), float(high), len(counts))


def _alpha(counts: np.ndarray) -> float | None:
    """None where alpha is 0/0 (every answer the same value: no disagreement to expect)."""
    if np.count_nonzero(counts.sum(axis=0)) < 2:
        return None
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement="nominal"))


def percent_agreement(units: Sequence[Sequence[Hashable]]) -> float | None:
    """The share of pairs of answers to the same item that agree, averaged over the items
    with two answers or more (raw: not corrected for chance)."""
    counts, _ = value_counts(units)
    if len(counts) == 0:
        return None
    answers = counts.sum(axis=1)
    agreeing = (counts * (counts - 1)).sum(axis=1) / (answers * (answers - 1))
    return float(agreeing.mean())


def binary_units(
    units: Sequence[Sequence[frozenset[Hashable]]], label: Hashable
) -> list[list[bool]]:
    """Each answer (a set of labels) as whether it chose `label`: one binary decision."""
    return [[label in answer for answer in unit] for unit in units]


def pairwise(answers: Mapping[str, Mapping[Hashable, Hashable]]) -> list[PairAgreement]:
    """Cohen's kappa and percent agreement of each pair of annotators over the items both
    answered. `answers`: {annotator: {item: value}}; pairs that share no item are left out."""
    # here, not at the top: a web process loads scikit-learn only when someone asks for
    # agreement, not at start (tests/hitl/test_web_imports.py)
    from sklearn.metrics import cohen_kappa_score

    pairs = []
    for first, second in combinations(sorted(answers), 2):
        shared = sorted(set(answers[first]) & set(answers[second]), key=repr)
        if not shared:
            continue
        a = [answers[first][item] for item in shared]
        b = [answers[second][item] for item in shared]
        agree = sum(x == y for x, y in zip(a, b, strict=True)) / len(shared)
        kappa = None
        if len(shared) >= MIN_SHARED_ITEMS and len(set(a) | set(b)) >= 2:
            value = cohen_kappa_score([repr(x) for x in a], [repr(y) for y in b])
            kappa = None if np.isnan(value) else float(value)
        pairs.append(PairAgreement(first, second, len(shared), kappa, agree))
    return pairs


@dataclass(frozen=True)
class ProjectAgreement:
    """Everything the agreement view shows of one project's answers."""

    items: int  # items with two real answers or more
    alpha: Alpha  # over the labels (single-label); over every label's binary decisions pooled
    percent_agreement: float | None
    per_label: dict[Hashable, tuple[Alpha, float | None]]  # label: (binary alpha, raw)
    pairs: list[PairAgreement]


def project_agreement(
    answers: Sequence[tuple[Hashable, str, frozenset[Hashable]]],
    *,
    labels: Sequence[Hashable],
    multi_label: bool,
    draws: int = BOOTSTRAP_DRAWS,
) -> ProjectAgreement:
    """Agreement over (item, annotator, chosen labels) answers, skips left out by the caller."""
    by_item: dict[Hashable, list[frozenset[Hashable]]] = defaultdict(list)
    by_annotator: dict[str, dict[Hashable, Hashable]] = defaultdict(dict)
    for item, annotator, chosen in answers:
        by_item[item].append(chosen)
        by_annotator[annotator][item] = _one_value(chosen)
    units = [unit for unit in by_item.values() if len(unit) >= 2]
    per_label = {}
    for label in labels:
        binary = binary_units(units, label)
        per_label[label] = (nominal_alpha(binary, draws=draws), percent_agreement(binary))
    if multi_label:
        pooled = [decision for label in labels for decision in binary_units(units, label)]
        alpha, raw = nominal_alpha(pooled, draws=draws), percent_agreement(pooled)
    else:
        values = [[_one_value(chosen) for chosen in unit] for unit in units]
        alpha, raw = nominal_alpha(values, draws=draws), percent_agreement(values)
    return ProjectAgreement(len(units), alpha, raw, per_label, pairwise(by_annotator))


def alpha_in_words(alpha: float | None) -> str:
    """Alpha read as Krippendorff advises: 0.8 and above for conclusions, 0.667 for tentative
    ones."""
    if alpha is None:
        return "Too few items with two answers or more to judge agreement yet."
    if alpha >= 0.8:
        return "The team agrees reliably beyond chance."
    if alpha >= 0.667:
        return "The team agrees fairly: enough for tentative conclusions, not for firm ones."
    return (
        "The team agrees little beyond chance: the guidelines or the labels may read "
        "differently to different people."
    )


def _one_value(chosen: frozenset[Hashable]) -> Hashable:
    """An answer as one nominal value: its label (single-label) or its set of labels."""
    return next(iter(chosen)) if len(chosen) == 1 else tuple(sorted(chosen, key=repr))
