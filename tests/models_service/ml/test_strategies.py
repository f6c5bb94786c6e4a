"""Each strategy on hand-made probability arrays ranks as its definition says."""

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from models_service.ml import diversity
from models_service.ml import strategies as s

PROBA = np.array(
    [
        [0.98, 0.01, 0.01],  # sure
        [0.52, 0.46, 0.02],  # torn between two classes
        [0.34, 0.33, 0.33],  # no idea: highest entropy, lowest confidence
        [0.70, 0.20, 0.10],
    ]
)


def test_least_confidence_ranks_the_flattest_first():
    assert list(s.top_k(s.least_confidence(PROBA), 4)) == [2, 1, 3, 0]


def test_margin_ranks_the_closest_top_two_first():
    scores = s.margin_uncertainty(PROBA)
    assert list(s.top_k(scores, 4)) == [2, 1, 3, 0]
    assert scores[1] == pytest.approx(0.94)


def test_margin_prefers_a_two_way_tie_over_a_flat_three_way_spread():
    two_way = np.array([[0.45, 0.45, 0.10], [0.40, 0.30, 0.30]])
    assert s.margin_uncertainty(two_way)[0] > s.margin_uncertainty(two_way)[1]
    assert s.entropy(two_way)[0] < s.entropy(two_way)[1]  # entropy sees it the other way


def test_entropy_is_log_k_for_a_uniform_row_and_zero_for_a_sure_one():
    scores = s.entropy(np.array([[1 / 3] * 3, [1.0, 0.0, 0.0]]))
    assert scores[0] == pytest.approx(np.log(3))
    assert scores[1] == pytest.approx(0.0, abs=1e-9)


def test_a_one_class_model_is_certain_under_margin():
    assert list(s.margin_uncertainty(np.ones((3, 1)))) == [0.0, 0.0, 0.0]


def test_multilabel_uncertainty_peaks_at_one_half_per_label():
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.5, 0.99]])
    scores = s.multilabel_uncertainty(proba)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.2)
    assert list(s.top_k(scores, 3)) == [0, 2, 1]


def test_vote_entropy_is_zero_when_the_committee_agrees():
    votes = np.array([[0, 1, 2], [0, 1, 1], [0, 2, 0]])  # 3 members x 3 items
    scores = s.vote_entropy(votes, n_classes=3)
    assert scores[0] == pytest.approx(0.0, abs=1e-9)
    assert scores[2] == pytest.approx(np.log(3))  # three members, three different votes
    assert list(s.top_k(scores, 3)) == [2, 1, 0]


def test_ties_break_by_position_so_the_order_is_stable():
    assert list(s.top_k(np.array([0.5, 0.9, 0.5, 0.9]), 4)) == [1, 3, 0, 2]


def test_random_scores_depend_only_on_the_seed():
    assert np.array_equal(s.random_scores(5, seed=3), s.random_scores(5, seed=3))
    assert not np.array_equal(s.random_scores(5, seed=3), s.random_scores(5, seed=4))


def test_bad_shapes_and_unknown_names_are_errors():
    with pytest.raises(ValueError, match="n_classes"):
        s.entropy(np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="known: diverse_margin, margin"):
        s.get("nope")


def test_diverse_batch_takes_one_item_per_cluster_not_the_top_k_near_duplicates():
    # Six near-duplicates with the highest scores, and three distinct items a bit lower.
    features = np.array([[0, 0]] * 6 + [[10, 0], [0, 10], [10, 10]], dtype=float)
    features[:6] += np.linspace(0, 0.01, 6)[:, None]
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.90, 0.89, 0.88])
    picked = diversity.diverse_batch(scores, features, k=4, pool_factor=3)
    assert list(s.top_k(scores, 4)) == [0, 1, 2, 3]  # what plain uncertainty would serve
    assert list(picked) == [0, 6, 7, 8]


def test_diverse_batch_puts_last_the_clusters_next_to_items_being_labelled():
    # Three groups; the best-scored one lies next to an item another annotator holds.
    features = np.array([[0, 0], [0, 0.1], [10, 0], [10, 0.1], [0, 10], [0, 10.1]], dtype=float)
    scores = np.array([0.99, 0.98, 0.90, 0.89, 0.80, 0.79])
    assert list(diversity.diverse_batch(scores, features, k=3, pool_factor=2)) == [0, 2, 4]
    held = np.array([[0.2, 0.0]])
    assert list(diversity.diverse_batch(scores, features, k=3, pool_factor=2, covered=held)) == [
        2,
        4,
        0,
    ]


def test_diverse_batch_projects_wide_sparse_features_and_their_covered_rows_alike():
    rng = np.random.default_rng(0)
    centres = sparse.random(3, 5_000, density=0.02, random_state=0, format="csr") * 10
    rows = sparse.vstack([centres[i % 3] for i in range(300)], format="csr")
    rows = rows + sparse.random(300, 5_000, density=0.001, random_state=1) * 0.1
    scores = np.sort(rng.random(300))[::-1]
    held = centres[0]  # row 0's group (0, 3, 6, ...) is being labelled
    picked = diversity.diverse_batch(scores, rows, k=3, pool_factor=100, covered=held)
    assert sorted(int(i) % 3 for i in picked) == [0, 1, 2]
    assert int(picked[-1]) % 3 == 0 and list(picked[:2]) == [1, 2]


def test_cold_start_covers_every_cluster_of_the_pool():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    features = np.vstack([c + rng.normal(0, 0.5, (50, 2)) for c in centres])
    chosen = diversity.cold_start(features, 4, seed=0)
    assert len(set(chosen)) == 4
    assert sorted(int(i) // 50 for i in chosen) == [0, 1, 2, 3]


def test_the_ml_core_never_imports_django():
    for path in Path(s.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [name for name in names if name.split(".")[0] == "django"], path


def test_neighbour_disagreement_is_zero_where_the_nearest_labelled_items_agree_with_the_item():
    proba = np.array([[0.9, 0.1], [0.9, 0.1]])
    neighbour_proba = np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9]])
    # item 0 resembles labelled item 0 most, item 1 the two others
    similarity = np.array([[1.0, 0.2, 0.1], [0.1, 0.8, 0.9]])

    d = s.neighbour_disagreement(proba, neighbour_proba, similarity, k=1)

    assert d[0] == pytest.approx(0.0, abs=1e-9)
    assert d[1] == pytest.approx(0.9 * np.log(9) + 0.1 * np.log(1 / 9))  # KL(0.1,0.9 || 0.9,0.1)
    both = s.neighbour_disagreement(proba, neighbour_proba, similarity, k=2)
    assert both[0] == pytest.approx(d[1] / 2)  # the mean over its two nearest: 0 and d[1]


def test_contrastive_margin_lifts_a_sure_item_its_neighbours_contradict_above_a_sure_one():
    proba = np.array([[0.95, 0.05], [0.95, 0.05], [0.5, 0.5]])
    scores = s.contrastive_margin(proba, np.array([0.0, 3.0, 0.0]))
    assert scores[1] > scores[0]
    assert scores[2] == pytest.approx(1.0)  # a tie with no disagreement: the margin alone
    assert scores[1] < 2.0  # the disagreement counts at most as much as the margin
    with pytest.raises(ValueError):
        s.neighbour_disagreement(proba, proba, np.zeros((2, 3)))


def test_compact_projects_as_a_projection_drawn_afresh_for_these_columns_would():
    from sklearn.random_projection import SparseRandomProjection

    first = sparse.random(300, 2_000, density=0.01, format="csr", random_state=1)
    second = sparse.random(400, 2_000, density=0.01, format="csr", random_state=2)
    for rows in (first, second, first):  # the projection is kept between calls
        fresh = SparseRandomProjection(256, dense_output=True, random_state=3).fit_transform(rows)
        assert np.allclose(diversity.compact(rows, seed=3), fresh)


def _proba():
    return np.array([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])


def test_each_uncertainty_strategy_scores_by_its_measure_and_multi_label_by_each_label():
    proba = _proba()
    single, multi = s.Evidence(), s.Evidence(multi_label=True)
    assert np.allclose(s.get("margin").score(proba, single), s.margin_uncertainty(proba))
    assert np.allclose(s.get("entropy").score(proba, single), s.entropy(proba))
    assert np.allclose(s.get("least_confidence").score(proba, single), s.least_confidence(proba))
    for name in ("margin", "entropy", "least_confidence", "committee", "diverse_margin"):
        assert np.allclose(s.get(name).score(proba, multi), s.multilabel_uncertainty(proba))


def test_strategies_use_the_evidence_they_ask_for_and_fall_back_to_the_margin_without_it():
    proba, margin = _proba(), s.margin_uncertainty(_proba())
    votes = np.array([[0, 1, 2], [0, 1, 0], [0, 0, 1]])
    committee = s.get("committee")
    assert committee.committee and not committee.diverse
    assert np.allclose(committee.score(proba, s.Evidence(votes=votes)), s.vote_entropy(votes, 3))
    assert np.allclose(committee.score(proba, s.Evidence()), margin)
    default = s.get(s.DEFAULT)
    assert default.neighbours and default.diverse
    disagreement = np.array([0.0, 1.0, 3.0])
    assert np.allclose(
        default.score(proba, s.Evidence(disagreement=disagreement)),
        s.contrastive_margin(proba, disagreement),
    )
    assert np.allclose(default.score(proba, s.Evidence()), margin)
    random = s.get("random")
    assert np.array_equal(random.score(proba, s.Evidence(seed=4)), s.random_scores(3, 4))


def test_every_strategy_has_a_name_a_title_and_one_registry_entry():
    assert list(s.STRATEGIES) == [strategy.name for strategy in s.STRATEGIES.values()]
    assert all(strategy.title for strategy in s.STRATEGIES.values())
    assert s.DEFAULT in s.STRATEGIES
