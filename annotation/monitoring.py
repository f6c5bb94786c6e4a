"""How each annotator works: speed over active time, agreement with the others, a label bias,
and whether they get faster and sloppier. Pure Python over SciPy; no Django (the reads are
annotation.selectors.annotator_report's).

- Active time: answers more than SESSION_GAP apart start a new session (a break). Within a
  session an answer took the time since the one before; the first answer of a session took
  its own lead time, as the page measured it (nothing where it did not), capped at the gap.
- Agreement with consensus, leave-one-out: an answer is compared with the consensus of the
  item's other real answers, as the project judges (so one's own answer never makes the
  reference); items with no other answer, or whose others tie, say nothing.
- Bias: a chi-square test of the annotator's label counts against the rest of the team's.
  With thousands of answers a trivial difference is "significant", so words are given only
  when p < BIAS_P and a label's share differs by BIAS_SHARE and BIAS_RATIO at least. Items
  are served in the ranking's order, not at random: a difference can also be a different mix
  of items, which the words cannot tell apart.
- Trend: the annotator's answers in order, TREND_WINDOW at a time; "faster and sloppier" when
  the later half of the windows is FASTER times as fast as the earlier and agrees SLOPPIER
  (absolute) less often.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from statistics import median

SESSION_GAP = timedelta(minutes=5)
TREND_WINDOW = 100  # answers per point of the trend
BIAS_P = 0.01
# the least difference in a label's share worth words: 5 points, and a quarter of the team's
# share (one biased person moves the rest's shares too, by a few points in a team of ten)
BIAS_SHARE, BIAS_RATIO = 0.05, 1.25
BIAS_MIN_CHOICES = 20  # fewer label choices (theirs or the rest's): no test
FASTER, SLOPPIER = 1.2, 0.05
TREND_MIN_COMPARED = 30  # answers compared with a consensus in each half, at least

Labels = tuple[str, ...]
# the consensus of (annotator, labels) answers: its labels, or None (a tie, too unsure)
Consensus = Callable[[Sequence[tuple[str, Labels]]], frozenset[str] | None]


@dataclass(frozen=True, eq=False)  # each answer is itself: compared by identity, fast to hash
class Answer:
    """One answer (or skip) as monitoring reads it. `counted`: False for an answer read only
    as another person's answer to an item, for leave-one-out (older than the window read)."""

    item: int
    annotator: str
    labels: Labels  # sorted; empty for a skip
    skipped: bool
    lead_time_ms: int | None
    at: float  # when it was given, in seconds (since the epoch, or any fixed moment)
    counted: bool = True


@dataclass(frozen=True)
class TrendPoint:
    """One window of the annotator's answers."""

    answers: int  # the annotator's answers up to the window's end (within those read)
    started_at: float  # seconds, as Answer.at
    items: int  # answers (and skips) in the window
    active_seconds: float
    agreeing: int
    compared: int  # answers in the window compared with a consensus

    @property
    def items_per_hour(self) -> float | None:
        return per_hour(self.items, self.active_seconds)

    @property
    def agreement(self) -> float | None:
        return self.agreeing / self.compared if self.compared else None


@dataclass(frozen=True)
class WorkStats:
    """What the annotator's answers in order say (skips count as items handled)."""

    active_seconds: float
    items_per_hour: float | None
    median_lead_seconds: float | None  # over real answers with a lead time
    agreement: float | None
    compared: int  # answers behind `agreement`
    trend: list[TrendPoint]
    trend_words: str | None


@dataclass(frozen=True)
class Bias:
    p_value: float | None  # None: too few label choices to test
    words: str | None  # set when the difference is significant and large enough


def work_seconds(
    times: Sequence[float], lead_times_ms: Sequence[int | None], *, gap: timedelta = SESSION_GAP
) -> list[float]:
    """Each answer's share of active time, for answers sorted by time: the time since the
    previous answer when within `gap`, else (a session's first) its lead time capped at `gap`,
    0 without one."""
    seconds, cap = [], gap.total_seconds()
    for n, (at, lead_ms) in enumerate(zip(times, lead_times_ms, strict=True)):
        since = at - times[n - 1] if n else None
        if since is not None and since <= cap:
            seconds.append(since)
        else:
            seconds.append(min(lead_ms / 1000, cap) if lead_ms is not None else 0.0)
    return seconds


def per_hour(items: int, seconds: float) -> float | None:
    return items * 3600 / seconds if seconds > 0 else None


def leave_one_out(answers: Sequence[Answer], consensus: Consensus) -> dict[Answer, bool]:
    """Whether each counted real answer equals the consensus of the other real answers to its
    item; answers without such a consensus are left out. `consensus` is asked once per
    distinct set of other answers (with a few annotators the same sets come back often)."""
    by_item: dict[int, list[Answer]] = {}
    for answer in answers:
        if not answer.skipped:
            by_item.setdefault(answer.item, []).append(answer)
    known: dict[tuple[tuple[str, Labels], ...], frozenset[str] | None] = {}
    agreed = {}
    for item_answers in by_item.values():
        for answer in item_answers:
            if not answer.counted:
                continue
            others = tuple(sorted((a.annotator, a.labels) for a in item_answers if a is not answer))
            if not others:
                continue
            if others not in known:
                known[others] = consensus(others)
            if (reference := known[others]) is not None:
                agreed[answer] = frozenset(answer.labels) == reference
    return agreed


def work_stats(
    answers: Sequence[Answer],
    agreed: Mapping[Answer, bool],
    *,
    gap: timedelta = SESSION_GAP,
    window: int = TREND_WINDOW,
) -> WorkStats:
    """One annotator's figures from their counted answers (any order) and leave_one_out's
    verdicts on them."""
    ordered = sorted(answers, key=lambda a: a.at)
    seconds = work_seconds([a.at for a in ordered], [a.lead_time_ms for a in ordered], gap=gap)
    leads = [a.lead_time_ms / 1000 for a in ordered if not a.skipped and a.lead_time_ms is not None]
    compared = [agreed[a] for a in ordered if a in agreed]
    trend = [
        _point(ordered[start : start + window], seconds[start : start + window], agreed, start)
        for start in range(0, len(ordered), window)
    ]
    return WorkStats(
        active_seconds=sum(seconds),
        items_per_hour=per_hour(len(ordered), sum(seconds)),
        median_lead_seconds=median(leads) if leads else None,
        agreement=sum(compared) / len(compared) if compared else None,
        compared=len(compared),
        trend=trend,
        trend_words=faster_and_sloppier(trend),
    )


def _point(
    answers: Sequence[Answer], seconds: Sequence[float], agreed: Mapping[Answer, bool], start: int
) -> TrendPoint:
    compared = [agreed[a] for a in answers if a in agreed]
    return TrendPoint(
        answers=start + len(answers),
        started_at=answers[0].at,
        items=len(answers),
        active_seconds=sum(seconds),
        agreeing=sum(compared),
        compared=len(compared),
    )


def faster_and_sloppier(trend: Sequence[TrendPoint]) -> str | None:
    """Words when the later half of the trend's windows is much faster than the earlier half
    and agrees with the others much less often; None otherwise, or with too little to tell."""
    if len(trend) < 2:
        return None
    half = len(trend) // 2
    early, late = _pooled(trend[:half]), _pooled(trend[half:])
    if early is None or late is None:
        return None
    (early_speed, early_agreement), (late_speed, late_agreement) = early, late
    if late_speed < early_speed * FASTER or early_agreement - late_agreement < SLOPPIER:
        return None
    return (
        f"got faster and sloppier: {late_speed:.0f} items an hour lately against "
        f"{early_speed:.0f} at first, agreeing with the others on {late_agreement:.0%} of "
        f"answers against {early_agreement:.0%}"
    )


def _pooled(points: Sequence[TrendPoint]) -> tuple[float, float] | None:
    """(items an hour, agreement) over the points together; None with too little to tell."""
    seconds = sum(p.active_seconds for p in points)
    compared = sum(p.compared for p in points)
    if seconds <= 0 or compared < TREND_MIN_COMPARED:
        return None
    return sum(p.items for p in points) * 3600 / seconds, sum(p.agreeing for p in points) / compared


def label_bias(theirs: Mapping[str, int], rest: Mapping[str, int]) -> Bias:
    """Chi-square test of the annotator's label counts (choices: a multi-label answer counts
    each label) against the rest of the team's, with words for a significant, large enough
    difference, named by the label whose share departs most from the team's."""
    labels = sorted(name for name in set(theirs) | set(rest) if theirs.get(name) or rest.get(name))
    mine, others = [theirs.get(n, 0) for n in labels], [rest.get(n, 0) for n in labels]
    if len(labels) < 2 or min(sum(mine), sum(others)) < BIAS_MIN_CHOICES:
        return Bias(None, None)
    # here, not at the top: a web process loads SciPy when someone asks, not at start
    # (tests/hitl/test_web_imports.py)
    from scipy.stats import chi2_contingency

    result = chi2_contingency([mine, others])
    p_value = float(result.pvalue)
    shares = [n / sum(mine) for n in mine]
    team_shares = [n / sum(others) for n in others]
    telling_labels = [n for n in range(len(labels)) if _telling(shares[n], team_shares[n])]
    if p_value >= BIAS_P or not telling_labels:
        return Bias(p_value, None)
    # the label whose share departs most from the team's; of two as far (always, with two
    # labels) the one they give more often, which reads more plainly
    telling = max(
        telling_labels,
        key=lambda n: (round(abs(shares[n] - team_shares[n]), 9), shares[n] > team_shares[n]),
    )
    share, team = shares[telling], team_shares[telling]
    name = labels[telling]
    if share > team and team > 0:
        words = f"answers {name} {share / team:.1f} times as often as the rest of the team"
    elif share > team:
        words = f"answers {name}, which the rest of the team never does"
    elif share == 0:
        words = f"never answers {name}"
    else:
        words = f"seldom answers {name}"
    return Bias(p_value, f"{words} ({share:.0%} of their labels against {team:.0%})")


def _telling(share: float, team: float) -> bool:
    """Whether a label's share differs from the team's by BIAS_SHARE and BIAS_RATIO both."""
    if abs(share - team) < BIAS_SHARE:
        return False
    return team == 0 or not 1 / BIAS_RATIO < share / team < BIAS_RATIO
