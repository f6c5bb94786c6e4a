"""One round in the pure ML core (models_service.ml.engine), without Django."""

import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from models_service.ml import engine, features

TEXTS = Path(__file__).resolve().parents[3] / "data" / "texts.jsonl"
CLASSES = ["sound", "science", "games", "graphics", "mail", "database"]


def test_a_round_with_fewer_labels_a_class_than_folds_trains_and_skips_cross_validation():
    """Twenty labels spread two to a class over ten classes is an ordinary early round; sklearn
    cannot split it into three stratified folds, and that must not fail the round."""
    digits = load_digits()
    chosen = np.concatenate([np.flatnonzero(digits.target == c)[:2] for c in range(10)])
    items = [{"features": (row / 16.0).tolist()} for row in digits.data[chosen]]

    bundle = engine.train(
        items,
        list(digits.target[chosen]),
        classes=[str(c) for c in range(10)],
        multi_label=False,
        model_name="logistic_regression",
        strategy="margin",
        pool_size=len(digits.target),
    )

    assert bundle.cv_metrics == {}
    assert bundle.proba(bundle.features(items)).shape == (20, 10)


def test_a_committee_trains_when_a_members_sample_misses_a_rare_class():
    """Each committee member fits on a bootstrap sample: with one label of a class among
    twenty-one, some member never sees it. That member must still fit (under balanced class
    weights its missing class would weigh 0 / 0) and every item gets a disagreement score."""
    digits = load_digits()
    chosen = np.concatenate(
        [np.flatnonzero(digits.target == 0)[:10], np.flatnonzero(digits.target == 1)[:10]]
        + [np.flatnonzero(digits.target == 2)[:1]]
    )
    items = [{"features": (row / 16.0).tolist()} for row in digits.data[chosen]]

    bundle = engine.train(
        items,
        list(digits.target[chosen]),
        classes=["0", "1", "2"],
        multi_label=False,
        model_name="logistic_regression",
        strategy="committee",
        pool_size=len(digits.target),
    )

    assert len(bundle.committee) == engine.COMMITTEE_SIZE
    scores, _predicted, _confidence = bundle.score(items)
    assert np.isfinite(scores).all()


def test_a_model_scores_with_the_weight_on_the_pools_directions_it_was_trained_with():
    # A model on 20 labels weighs the pool's directions by 2 (features.topic_weight); scoring
    # must apply the same weight to the rows it reads, or its predictions drift.
    rows = [json.loads(line) for line in TEXTS.read_text().splitlines()[:300]]
    train, pool = rows[:20], rows[20:]
    featurizer = features.fit("tfidf", pool)
    bundle = engine.train(
        train,
        [CLASSES.index(r["label"]) for r in train],
        classes=CLASSES,
        multi_label=False,
        model_name="logistic_regression",
        strategy="diverse_margin",
        pool_size=len(pool),
        featurizer=featurizer,
    )
    assert bundle.topic_weight == 2.0 and bundle.topic_columns == 200
    x = bundle.features(pool)
    weighed = features.weigh_topics(x, 200, 2.0)
    assert np.allclose(bundle.proba(x), bundle.model.predict_proba(weighed))
    assert not np.allclose(bundle.proba(x), bundle.model.predict_proba(x))
