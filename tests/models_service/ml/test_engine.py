"""One round in the pure ML core (models_service.ml.engine), without Django."""

import json
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.datasets import load_digits
from sklearn.preprocessing import normalize

from models_service.ml import engine, features, strategies

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


def _text_round(strategy, n_labels=40, model="logistic_regression"):
    """A round on the first n_labels of 400 shipped texts, its featurizer fitted on all 400."""
    rows = [json.loads(line) for line in TEXTS.read_text().splitlines()[:400]]
    train, pool = rows[:n_labels], rows[n_labels:]
    bundle = engine.train(
        train,
        [CLASSES.index(r["label"]) for r in train],
        classes=CLASSES,
        multi_label=False,
        model_name=model,
        strategy=strategy,
        pool_size=len(rows),
        featurizer=features.fit("tfidf", rows),
        cross_validate=False,
    )
    return bundle, train, pool


def test_a_model_scores_with_the_weight_on_the_pools_directions_it_was_trained_with():
    # A model on 20 labels weighs the pool's directions by 2 (features.topic_weight); scoring
    # must apply the same weight to the rows it reads, or its predictions drift.
    bundle, _train, pool = _text_round("diverse_margin", n_labels=20)
    assert bundle.topic_weight == 2.0 and bundle.topic_columns == 200
    x = bundle.features(pool)
    weighed = features.weigh_topics(x, 200, 2.0)
    assert np.allclose(bundle.proba(x), bundle.model.predict_proba(weighed))
    assert not np.allclose(bundle.proba(x), bundle.model.predict_proba(x))


def _bridged_words(rng, words, n):
    """n rows of word counts drawn from `words` (column indices), three words a row."""
    rows = np.zeros((n, 40))
    for row in rows:
        row[rng.choice(words, 3, replace=False)] = 1.0
    return rows


def test_self_training_carries_the_labels_over_words_only_unlabelled_items_share_with_them():
    """Labelled items use words 0-9 (class 0) and 20-29 (class 1); test items use only words
    10-19 and 30-39, which no label ever shows. Unlabelled items mix both halves, so a model
    that adds its confident guesses on them learns the unseen words; one fitted on the labels
    alone cannot tell the test items apart."""
    rng = np.random.default_rng(0)
    X_labelled = sparse.csr_matrix(
        np.vstack([_bridged_words(rng, range(0, 10), 10), _bridged_words(rng, range(20, 30), 10)])
    )
    y = np.repeat([0, 1], 10)
    unlabelled = sparse.csr_matrix(
        np.vstack(
            [
                _bridged_words(rng, range(0, 10), 100) + _bridged_words(rng, range(10, 20), 100),
                _bridged_words(rng, range(20, 30), 100) + _bridged_words(rng, range(30, 40), 100),
            ]
        )
    )
    X_test = sparse.csr_matrix(
        np.vstack([_bridged_words(rng, range(10, 20), 50), _bridged_words(rng, range(30, 40), 50)])
    )
    y_test = np.repeat([0, 1], 50)

    alone = engine.fit_model("logistic_regression", X_labelled, y, seed=0)
    self_trained = engine.fit_model(
        "logistic_regression", X_labelled, y, seed=0, unlabelled=unlabelled
    )

    assert (alone.predict(X_test) == y_test).mean() <= 0.6
    assert (self_trained.predict(X_test) == y_test).mean() >= 0.95


def test_confident_guesses_take_the_surest_rows_shared_among_classes_as_the_labels_are():
    proba = np.array(
        [
            [0.9, 0.1],  # class 0, surest
            [0.6, 0.4],  # class 0, least sure
            [0.8, 0.2],  # class 0
            [0.3, 0.7],  # class 1
            [0.1, 0.9],  # class 1, surest
        ]
    )
    labels = np.array([0, 0, 0, 1])  # three quarters of the labels are class 0

    rows, guesses = engine.confident_guesses(proba, np.array([0, 1]), labels, how_many=3)

    assert rows.tolist() == [0, 2, 4]  # two for class 0 (int(2.25)), at least one for class 1
    assert guesses.tolist() == [0, 0, 1]


def _coefficients_with_and_without_guesses(X, y, unlabelled, multi_label=False):
    def coefficients(model):
        members = model.estimators_ if multi_label else [model]
        return np.vstack([member.coef_ for member in members])

    with_guesses = engine.fit_model(
        "logistic_regression", X, y, multi_label=multi_label, seed=0, unlabelled=unlabelled
    )
    alone = engine.fit_model("logistic_regression", X, y, multi_label=multi_label, seed=0)
    return coefficients(with_guesses), coefficients(alone)


def test_guesses_count_for_sparse_single_label_features_while_the_labels_are_few():
    y = np.array([0, 1, 0, 1])
    with_guesses, alone = _coefficients_with_and_without_guesses(
        sparse.csr_matrix(np.eye(4)), y, sparse.csr_matrix(np.eye(4)[::-1])
    )
    assert not np.allclose(with_guesses, alone)


def test_no_guesses_for_dense_vectors_multi_label_models_or_many_labels():
    y = np.array([0, 1, 0, 1])
    dense = _coefficients_with_and_without_guesses(np.eye(4), y, np.eye(4)[::-1])
    assert np.allclose(*dense)
    multi = _coefficients_with_and_without_guesses(
        sparse.csr_matrix(np.eye(4)),
        np.array([[1, 0], [0, 1], [1, 1], [0, 0]]),
        sparse.csr_matrix(np.eye(4)[::-1]),
        multi_label=True,
    )
    assert np.allclose(*multi)
    assert not engine.self_trains(
        engine.SELF_TRAINING_BELOW, multi_label=False, sparse_features=True
    )
    assert engine.self_trains(
        engine.SELF_TRAINING_BELOW - 1, multi_label=False, sparse_features=True
    )


def test_the_default_strategy_on_text_adds_the_labelled_neighbours_disagreement_to_the_margin():
    bundle, train, pool = _text_round("diverse_margin")
    assert bundle.neighbours.shape[0] == len(train)

    X = bundle.features(pool)
    proba = bundle.proba(X)
    scores, _predicted, _confidence = bundle.score_features(X)
    margin = strategies.margin_uncertainty(proba)
    lift = scores - margin
    assert (lift >= 0).all() and (lift < 1).all() and lift.max() > 0.1
    # computed a block at a time, the same as all at once
    assert np.allclose(
        engine.neighbour_disagreement(X, proba, bundle.neighbours, bundle.neighbour_proba),
        strategies.neighbour_disagreement(
            proba,
            bundle.neighbour_proba,
            (normalize(X) @ normalize(bundle.neighbours).T).toarray(),
        ),
    )


def test_plain_margin_dense_vectors_and_many_labels_score_without_neighbours():
    bundle, _train, _pool = _text_round("margin")
    assert bundle.neighbours is None
    digits = load_digits()
    items = [{"features": (row / 16.0).tolist()} for row in digits.data[:40]]
    dense = engine.train(
        items,
        list(digits.target[:40]),
        classes=[str(c) for c in range(10)],
        multi_label=False,
        model_name="logistic_regression",
        strategy="diverse_margin",
        pool_size=len(digits.target),
        cross_validate=False,
    )
    assert dense.neighbours is None
    below = engine.NEIGHBOURS_BELOW
    assert engine.uses_neighbours(below - 1, multi_label=False, sparse_features=True)
    assert not engine.uses_neighbours(below, multi_label=False, sparse_features=True)
    assert not engine.uses_neighbours(below - 1, multi_label=True, sparse_features=True)


def test_train_fits_on_the_rows_a_caller_already_has_instead_of_featurizing_again():
    texts = [f"{word} {word} common" for word in ("apple", "pear", "plum", "fig")] * 5
    items = [{"text": text} for text in texts]
    featurizer = features.fit("tfidf", items)
    rows = features.transform(featurizer, items)
    kept = {
        "classes": ["a", "b"],
        "multi_label": False,
        "model_name": "logistic_regression",
        "strategy": "margin",
        "pool_size": 20,
        "featurizer": featurizer,
        "cross_validate": False,
    }
    targets = [0, 1] * 10

    own = engine.train(items, targets, **kept)
    given = engine.train(items, targets, rows=rows, **kept)
    swapped = engine.train(items, targets, rows=rows[::-1], **kept)

    assert np.allclose(own.model.coef_, given.model.coef_)
    assert not np.allclose(own.model.coef_, swapped.model.coef_)  # the rows, not the items


def test_an_incremental_update_refreshes_the_models_guesses_on_the_labelled_neighbours():
    bundle, _train, pool = _text_round("diverse_margin", model="sgd")
    before = bundle.neighbour_proba.copy()
    new = pool[:30]

    assert engine.adapt(bundle, new, [CLASSES.index(r["label"]) for r in new]) == 30

    assert not np.allclose(bundle.neighbour_proba, before)
    assert np.allclose(bundle.neighbour_proba, bundle.proba(bundle.neighbours))


def test_top_classes_are_the_likeliest_first_and_break_ties_as_argmax_does():
    proba = np.array([[0.1, 0.6, 0.3], [0.4, 0.2, 0.4], [0.25, 0.25, 0.5]])
    order, top = engine.top_classes(proba, 3)
    assert order.tolist() == [[1, 2, 0], [0, 2, 1], [2, 0, 1]]
    assert np.allclose(top, [[0.6, 0.3, 0.1], [0.4, 0.4, 0.2], [0.5, 0.25, 0.25]])
    assert (order[:, 0] == proba.argmax(axis=1)).all()
    order, top = engine.top_classes(proba[:, :2], 3)  # fewer classes than asked for
    assert order.shape == top.shape == (3, 2)
