"""Scoring items under a bundle: the strategy's scores, predicted label names and confidences
as the queue's ranking stores them."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import orjson

from annotation import selectors
from models_service.ml import engine
from models_service.rounds.artifacts import store


@dataclass
class Scored:
    """A chunk's items as annotation.ranking.write_chunk takes them."""

    item_ids: list[int]
    scores: list[float]
    predicted_json: list[str]
    confidence: list[float]
    is_open: list[bool]


def score_range(
    bundle: engine.Bundle, project_id: int, low: int, high: int, *, seed: int
) -> Scored:
    """Score the project's items low <= id < high."""
    field: Literal["text", "features"] = "features" if bundle.featurizer is None else "text"
    rows = selectors.model_inputs(project_id, field=field, low=low, high=high)
    if not rows:
        return Scored([], [], [], [], [])
    ids = [item_id for item_id, _data, _open in rows]
    X = store.bundle_features(bundle, ids, [data for _id, data, _open in rows])
    scores, predicted, confidence = bundle.score_features(X, seed=seed)
    return Scored(
        ids,
        scores.tolist(),
        predicted_json(bundle, predicted),
        confidence.tolist(),
        [is_open for _id, _data, is_open in rows],
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
