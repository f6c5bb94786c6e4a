"""The diverse batch on top of a ranking: annotators working in parallel do not all get
near-duplicates, and an early batch does not all come from one corner of the pool."""

from datetime import datetime

import numpy as np

from annotation import ranking, selectors
from models_service.ml import engine
from models_service.rounds.artifacts import store

DIVERSE_BATCH = 50  # served first, one per cluster of the top candidates
DIVERSE_CANDIDATES = 10  # ... drawn from this many times as many of the most uncertain


def diversify_top(
    *, project_id: int, ranking_id: int, bundle: engine.Bundle, known_until: datetime | None = None
) -> None:
    """Re-score the top candidates so that the first DIVERSE_BATCH served are one per cluster
    of the DIVERSE_BATCH * DIVERSE_CANDIDATES most uncertain (the cold-start trap: pure
    uncertainty order made a first batch of 100 texts worth less than a random one, a wide
    candidate set made it worth more; docs/benchmarks.md, "The diverse first batch and the
    cold-start trap").

    Clusters near an item being labelled already (see `in_hand`) come last."""
    top = ranking.head(ranking_id=ranking_id, limit=DIVERSE_BATCH * DIVERSE_CANDIDATES)
    if len(top) <= 1:
        return
    ids = [item_id for item_id, _score, _data in top]
    scores = np.asarray([score for _id, score, _data in top])
    X = store.bundle_features(bundle, ids, [data for *_, data in top])
    held = in_hand(project_id, known_until)
    covered = None
    if held:
        covered = store.bundle_features(bundle, [i for i, _ in held], [d for _, d in held])
    order = engine.diverse_order(X, scores, DIVERSE_BATCH, covered=covered)
    ceiling = float(scores.max())
    ranking.rescore(
        ranking_id=ranking_id,
        item_ids=[ids[position] for position in order],
        scores=[ceiling + len(order) - rank for rank in range(len(order))],
    )


def in_hand(project_id: int, known_until: datetime | None = None) -> list[tuple[int, dict]]:
    """(id, data) of the items whose labels the model does not know yet but soon will: held
    by an annotator now, or answered after `known_until` (the version's training read), among
    the project's latest DIVERSE_BATCH answers. With three annotators, serving next to these
    cost labels: the ranking is a round behind what they are teaching it."""
    return selectors.in_hand(project_id, answered_after=known_until, limit=DIVERSE_BATCH)
