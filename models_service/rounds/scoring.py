"""Scoring items under a bundle: the strategy's scores, predicted label names, confidences and
the top labels as the queue's ranking stores them."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson

from annotation import selectors
from models_service.ml import engine
from models_service.rounds.artifacts import store

# The labelling page shows a single-label prediction's runner-ups from this many labels up:
# with two, the other one's probability is 1 - confidence and says nothing new (and binary
# projects, often the largest, store nothing more per item); with three, how close the second
# comes is the signal (48/45/7 asks for a look that 90/6/4 does not).
TOP_FROM_LABELS = 3
TOP_LABELS = 3  # top_json writes three
_PROBABILITY = np.asarray([orjson.dumps(n / 1000).decode() for n in range(1001)], dtype=object)


@dataclass
class Scored:
    """A chunk's items as annotation.ranking.write_chunk takes them."""

    item_ids: list[int]
    scores: list[float]
    predicted_json: list[str]
    confidence: list[float]
    is_open: list[bool]
    top_json: list[str | None]


def score_range(
    bundle: engine.Bundle, project_id: int, low: int, high: int, *, seed: int
) -> Scored:
    """Score the project's items low <= id < high."""
    field: Literal["text", "features"] = "features" if bundle.featurizer is None else "text"
    rows = selectors.model_inputs(project_id, field=field, low=low, high=high)
    if not rows:
        return Scored([], [], [], [], [], [])
    ids = [item_id for item_id, _data, _open in rows]
    X = store.bundle_features(bundle, ids, [data for _id, data, _open in rows])
    scores, proba = bundle.score_proba(X, seed=seed)
    predicted, confidence = bundle.predictions(proba)
    return Scored(
        ids,
        scores.tolist(),
        predicted_json(bundle, predicted),
        confidence.tolist(),
        [is_open for _id, _data, is_open in rows],
        top_json(bundle, proba),
    )


def predicted_json(bundle: engine.Bundle, predicted) -> list[str]:
    """Each row's predicted label names as a JSON list; single-label answers are encoded once
    per class, not once per item."""
    classes = bundle.classes
    if bundle.multi_label:
        return [
            orjson.dumps([classes[j] for j in np.flatnonzero(row)]).decode()
            for row in np.asarray(predicted)
        ]
    encoded = [orjson.dumps([name]).decode() for name in classes]
    return [encoded[i] for i in predicted]


def top_json(bundle: engine.Bundle, proba: np.ndarray) -> list[str | None]:
    """Each row's three most probable label names with their probabilities (3 decimals: the
    page shows whole percents), most probable first, as a JSON list of [name, probability]
    pairs; None for every row of a multi-label model or one of fewer than TOP_FROM_LABELS.

    Written from tables of encoded names and numbers, not by orjson per row: a third of the
    time (0.3 against 1 µs a row; a million-item round pays 0.3 s, not 1 s)."""
    if bundle.multi_label or len(bundle.classes) < TOP_FROM_LABELS:
        return [None] * len(proba)
    order, top = engine.top_classes(proba, TOP_LABELS)
    names = np.asarray([orjson.dumps(name).decode() for name in bundle.classes], dtype=object)
    probabilities = _PROBABILITY[np.rint(top * 1000).astype(np.intp)]
    rows = zip(names[order].tolist(), probabilities.tolist(), strict=True)
    return [f"[[{a},{p}],[{b},{q}],[{c},{r}]]" for (a, b, c), (p, q, r) in rows]


def stop_set_predictions(
    bundle: engine.Bundle, ids: Sequence[int], items: Sequence[dict]
) -> list[int]:
    """Predictions on the stop set, for the stabilizing rule to compare across versions."""
    if not items:
        return []
    predicted, _confidence = bundle.predictions(
        bundle.proba(store.bundle_features(bundle, ids, items))
    )
    return np.asarray(predicted).astype(int).ravel().tolist()
