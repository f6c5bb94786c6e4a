"""A model round in one process: training, scoring, the switch of the queue, the evaluation
sample, the claim and the stopping rule. The worker runs the same functions (see
test_engine_worker.py for the loop across processes)."""

import json
import pickle
from datetime import timedelta

import numpy as np
import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from annotation import imports, ranking, selectors, services
from annotation.models import Annotation, Item, Membership, RankedItem, Seed
from models_service import kick, learning, schedule, tasks
from models_service.ml import engine, metrics
from models_service.models import ModelVersion, ScoringChunk, Trainer
from models_service.rounds import (
    adapting,
    artifacts,
    diversity,
    evaluation,
    lifecycle,
    scoring,
    seeding,
    training,
)
from models_service.rounds.artifacts import store
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer, skip
from tests.models_service.helpers import label_next, run_round, text_project, texts
from tests.services import require_postgres

pytestmark = pytest.mark.django_db


def test_a_round_writes_a_version_and_next_serves_its_highest_scored_open_item():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 40)
    version = run_round(project.id)
    assert version.status == ModelVersion.Status.READY
    assert (version.number, version.trained_on, version.items_scored) == (1, 40, 300)
    assert RankedItem.objects.filter(ranking_id=version.id).count() == 300
    assert version.cv_metrics["note"] == "cross-validated on training labels"
    top = (
        RankedItem.objects.filter(ranking_id=version.id, item__status="open")
        .order_by("-score")
        .select_related("item")
        .first()
    )
    served = services.next_item_for(project=project, user=annotator)
    assert served.id == top.item_id
    assert served.prediction["labels"] == top.predicted
    assert served.prediction["version_id"] == version.id
    assert served.prediction["top"] == [{"label": n, "probability": p} for n, p in top.top]


def test_a_round_stores_each_items_three_likeliest_labels_from_three_labels_up():
    project, annotator = text_project(300, eval_share=0.0)  # six labels
    label_next(project, annotator, 40)
    version = run_round(project.id, cross_validate=False)
    rows = RankedItem.objects.filter(ranking_id=version.id)
    names = set(project.labels.values_list("name", flat=True))
    for predicted, confidence, top in rows.values_list("predicted", "confidence", "top"):
        assert len(top) == 3 and {name for name, _ in top} <= names
        assert top[0] == [predicted[0], round(confidence, 3)]
        probabilities = [p for _, p in top]
        assert probabilities == sorted(probabilities, reverse=True)
    assert len({tuple(name for name, _ in top) for top in rows.values_list("top", flat=True)}) > 1


def _two_label_project():
    rows = [row for row in texts(600) if row["label"] in ("sound", "games")][:200]
    project = ProjectFactory(labels=["games", "sound"], eval_share=0.0)
    raw = "\n".join(json.dumps(row) for row in rows).encode()
    imports.import_items(project=project, raw=raw, file_format="jsonl")
    annotator = UserFactory(username=f"sim-{project.id}")
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    return project, annotator


@pytest.mark.parametrize(
    "make",
    [_two_label_project, lambda: text_project(200, eval_share=0.0, multi_label=True)],
    ids=["two labels", "multi-label"],
)
def test_two_label_and_multi_label_rounds_store_no_top_labels(make):
    project, annotator = make()
    label_next(project, annotator, 30)
    version = run_round(project.id, cross_validate=False)
    assert RankedItem.objects.filter(ranking_id=version.id).exists()
    assert not RankedItem.objects.filter(ranking_id=version.id, top__isnull=False).exists()
    assert services.next_item_for(project=project, user=annotator).prediction["top"] is None


def test_cross_validation_follows_the_switch_and_skips_a_replaced_version():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 40)
    first = run_round(project.id, cross_validate=False)
    assert first.status == ModelVersion.Status.READY and first.cv_metrics == {}  # serving
    label_next(project, annotator, 5)  # answers given after the version: not in its figures
    assert evaluation.cross_validate(first.id)
    first.refresh_from_db()
    assert first.cv_metrics["note"] == "cross-validated on training labels"
    assert sum(sum(row) for row in first.cv_metrics["confusion_matrix"]) == 40
    assert not evaluation.cross_validate(first.id)  # done already
    second = run_round(project.id, cross_validate=False)
    label_next(project, annotator, 5)
    third = run_round(project.id, cross_validate=False)
    assert third.number == 3 and not evaluation.cross_validate(second.id)  # replaced: skipped
    second.refresh_from_db()
    assert second.cv_metrics == {}


def test_cross_validation_reads_a_bounded_sample_of_many_training_labels(monkeypatch):
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 40)
    monkeypatch.setattr(metrics, "CV_MAX_LABELS", 24)
    version = run_round(project.id)
    assert version.cv_metrics["note"] == "cross-validated on training labels (a random 24 of 40)"
    assert sum(sum(row) for row in version.cv_metrics["confusion_matrix"]) == 24


def test_the_first_diverse_batch_is_not_all_near_duplicates():
    project, annotator = text_project(600, eval_share=0.0)
    label_next(project, annotator, 30)
    version = run_round(project.id)
    served = [services.next_item_for(project=project, user=annotator) for _ in range(3)]
    top = list(
        RankedItem.objects.filter(ranking_id=version.id)
        .order_by("-score")
        .values_list("item_id", flat=True)[:20]
    )
    # One per cluster of the top candidates: more than one predicted class among the batch.
    predicted = {
        tuple(r)
        for r in RankedItem.objects.filter(ranking_id=version.id, item_id__in=top).values_list(
            "predicted", flat=True
        )
    }
    assert served[0].id == top[0]
    assert len(predicted) > 1


def test_a_round_serves_last_the_cluster_of_an_item_another_annotator_holds(monkeypatch):
    # Every text twice: whichever item is held, its twin has the same features and score.
    rows = texts(200)
    twins = rows + [row | {"external_id": row["external_id"] + "-twin"} for row in rows]
    project = ProjectFactory(labels=sorted({row["label"] for row in rows}), eval_share=0.0)
    imports.import_items(
        project=project, raw="\n".join(json.dumps(r) for r in twins).encode(), file_format="jsonl"
    )
    first, second = UserFactory(), UserFactory()
    for user in (first, second):
        MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    label_next(project, first, 30)
    run_round(project.id, cross_validate=False)
    held = services.next_item_for(project=project, user=second)  # the top: not answered yet
    label_next(project, first, 5)
    orders = []  # the batch's order without and with the items in hand, as the round saw them

    def recording(X, scores, k, covered=None):
        orders.append((real(X, scores, k), real(X, scores, k, covered=covered), covered))
        return orders[-1][1]

    real = engine.diverse_order
    monkeypatch.setattr(engine, "diverse_order", recording)
    version = run_round(project.id, cross_validate=False)
    unaware, aware, covered = orders[-1]
    # the held item, and only it, was in hand: its features are what the clusters were kept from
    held_row = store.bundle_features(store.load(version), [held.id], [held.data])
    assert covered.shape[0] == 1 and (covered != held_row).nnz == 0
    # the same clusters' best items, one of them (the held item's cluster's) moved to the end
    assert list(aware[:-1]) == [i for i in unaware if i != aware[-1]]
    pair = set(
        Item.objects.filter(project=project, data__text=held.data["text"]).values_list(
            "id", flat=True
        )
    )
    assert len(pair) == 2
    # the diverse batch is re-scored one apart above the rest, first served first
    ranked = list(
        RankedItem.objects.filter(ranking_id=version.id)
        .order_by("-score")
        .values_list("item_id", "score")[: diversity.DIVERSE_BATCH + 1]
    )
    scores = [score for _id, score in ranked]
    assert np.allclose(np.diff(scores[:-1]), -1.0) and scores[-2] - scores[-1] >= 1 - 1e-9
    batch = [item_id for item_id, _score in ranked[:-1]]
    assert not pair & set(batch[:-1])  # neither twin is served before the rest of the batch


def test_items_in_hand_are_those_held_or_answered_since_the_model_read_its_labels():
    project, first = text_project(300, eval_share=0.0)
    second = UserFactory()
    MembershipFactory(project=project, user=second, role=Membership.Role.ANNOTATOR)
    label_next(project, first, 3)
    known_until = timezone.now()
    answered = label_next(project, first, 2)
    held = services.next_item_for(project=project, user=second)
    project.eval_share = 1.0
    project.save()
    drawn = services.next_item_for(project=project, user=first)  # an evaluation draw: never trains
    assert drawn.evaluation
    in_hand = dict(diversity.in_hand(project.id, known_until))
    assert set(in_hand) == {held.id} | {item.id for item in answered}
    assert in_hand[held.id] == held.data
    assert set(dict(diversity.in_hand(project.id))) == {held.id}  # without a read moment: held only


def test_evaluation_draws_are_kept_out_of_training_and_measure_the_model():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 30)
    project.eval_share = 1.0  # every serve an evaluation draw
    project.save()
    drawn = label_next(project, annotator, 12)
    assert all(item.evaluation and item.prediction is None for item in drawn)
    assert Item.objects.filter(project=project, in_eval=True).count() == 12
    version = run_round(project.id)
    assert (version.trained_on, version.eval_size) == (30, 12)
    assert version.metrics["n"] == 12
    assert set(version.metrics) >= {"accuracy", "macro_f1", "per_class", "confusion_matrix"}
    assert sum(map(sum, version.metrics["confusion_matrix"])) == 12


def _unlabelled_rows_trained_on(monkeypatch) -> list:
    """A list that gets, for each training, how many unlabelled rows it was given (or None)."""
    seen = []
    train = engine.train

    def train_and_note(*args, unlabelled=None, **kwargs):
        seen.append(None if unlabelled is None else unlabelled.shape[0])
        return train(*args, unlabelled=unlabelled, **kwargs)

    monkeypatch.setattr(engine, "train", train_and_note)
    return seen


def test_a_round_self_trains_on_the_unlabelled_items_and_never_on_evaluation_items(monkeypatch):
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 30)
    project.eval_share = 1.0
    project.save()
    label_next(project, annotator, 12)
    seen = _unlabelled_rows_trained_on(monkeypatch)
    run_round(project.id)
    assert seen == [300 - 30 - 12]  # the whole pool is its own sample here


def test_evaluation_draws_stop_once_the_sample_has_its_size():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 30)
    project.eval_share, project.eval_sample_size = 0.5, 8
    project.save()
    served = label_next(project, annotator, 60)
    # uncapped, about 30 of the 60 would be drawn; fewer than 8 has odds of about 1 in 1e10
    assert len(served) == 60 and sum(item.evaluation for item in served) == 8
    assert Item.objects.filter(project=project, in_eval=True).count() == 8


def test_a_serving_version_whose_ranking_was_lost_is_retrained_at_once():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    first = run_round(project.id)
    assert not schedule.needs_training(project)
    RankedItem.objects.filter(ranking_id=first.id).delete()  # as a crash empties the unlogged table
    assert schedule.needs_training(project)
    assert services.next_item_for(project=project, user=annotator).prediction is None  # random
    second = run_round(project.id)
    assert second.number == 2 and RankedItem.objects.filter(ranking_id=second.id).count() == 300


def test_rankings_skip_the_write_ahead_log_on_postgresql():
    require_postgres()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = %s", [RankedItem._meta.db_table]
        )
        assert cursor.fetchone() == ("u",)  # unlogged


def _ranking_row_estimate() -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE relname = %s", [RankedItem._meta.db_table]
        )
        return cursor.fetchone()[0]


# Each case its own pool size: an ANALYZE is not rolled back with the test's transaction.
@pytest.mark.parametrize(("size", "threshold", "refreshed"), [(317, 300, True), (293, 400, False)])
def test_pruning_a_large_ranking_refreshes_the_planners_statistics(
    monkeypatch, size, threshold, refreshed
):
    require_postgres()
    monkeypatch.setattr(ranking, "ANALYZE_AFTER_ROWS", threshold)
    project, annotator = text_project(size, eval_share=0.0)
    label_next(project, annotator, 20)
    run_round(project.id, cross_validate=False)
    label_next(project, annotator, 5)
    run_round(project.id, cross_validate=False)
    # the test's transaction holds the rows uncommitted: only an ANALYZE in it can count them
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {RankedItem._meta.db_table}")
    assert _ranking_row_estimate() == pytest.approx(2 * size, abs=2)  # both rankings' rows
    lifecycle.tidy(project.id)  # the first ranking's rows go
    assert _ranking_row_estimate() == pytest.approx(size if refreshed else 2 * size, abs=2)


# Each case its own pool size, as above.
@pytest.mark.parametrize(("size", "threshold", "refreshed"), [(311, 100, True), (307, 400, False)])
def test_a_round_that_outgrows_the_planners_count_of_rankings_refreshes_it_as_it_writes(
    monkeypatch, size, threshold, refreshed
):
    # A next-item plan cached while the table looked empty read all of a million rankings on
    # every call (13 s): the chunks refresh the count before the version serves.
    require_postgres()
    monkeypatch.setattr(ranking, "ANALYZE_AFTER_ROWS", threshold)
    project, annotator = text_project(size, eval_share=0.0)
    label_next(project, annotator, 20)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {RankedItem._meta.db_table}")  # no rankings visible here: 0
    assert _ranking_row_estimate() == 0
    run_round(project.id)  # one chunk; the pruning task (which also analyzes) does not run
    assert _ranking_row_estimate() == (pytest.approx(size, abs=1) if refreshed else 0)


def test_the_labelled_count_is_of_items_with_a_real_answer_each_counted_once():
    project, first = text_project(40, eval_share=0.0, overlap=2)
    second = UserFactory()
    MembershipFactory(project=project, user=second, role=Membership.Role.ANNOTATOR)
    other, other_annotator = text_project(40, eval_share=0.0)
    label_next(other, other_annotator, 4)
    items = list(Item.objects.filter(project=project).select_related("project")[:4])
    for item in items[:3]:
        answer(item, first, [item.data["label"]])
    answer(items[0], second, [items[0].data["label"]])
    skip(items[3], second)
    assert selectors.labelled_count(project.id) == 3
    services.skip_item(item=items[2], annotator=first)  # the answer replaced by a skip
    assert selectors.labelled_count(project.id) == 2
    assert selectors.labelled_count(other.id) == 4


def test_no_round_until_enough_new_labels_then_the_cadence_grows():
    project, annotator = text_project(300, eval_share=0.0, retrain_every=10)
    label_next(project, annotator, 9)
    assert run_round(project.id) is None
    label_next(project, annotator, 1)
    assert run_round(project.id).trained_on == 10
    assert schedule.cadence(10, 10) == 10 and schedule.cadence(500, 10) == 25
    assert schedule.cadence(0, 5) == 10  # a first model waits for ten labels, its seeds
    label_next(project, annotator, 9)
    assert run_round(project.id) is None


def test_only_the_newest_versions_model_files_are_kept_and_always_the_serving_one(settings):
    settings.HITL_MODEL_FILES_KEPT = 2
    project, annotator = text_project(300, eval_share=0.0)
    versions = []
    for _ in range(4):
        label_next(project, annotator, 20)
        versions.append(run_round(project.id))
    assert lifecycle.prune_model_files(project.id) == 2
    assert [store.model_path(v).exists() for v in versions] == [False, False, True, True]
    versions[3].status = ModelVersion.Status.FAILED  # v3 serves again
    versions[3].save()
    settings.HITL_MODEL_FILES_KEPT = 1
    assert lifecycle.prune_model_files(project.id) == 0  # v4 is the newest, v3 the serving one
    settings.HITL_MODEL_FILES_KEPT = 0
    label_next(project, annotator, 20)
    run_round(project.id)
    assert lifecycle.prune_model_files(project.id) == 0  # 0 keeps every file


def test_an_admin_request_trains_without_new_labels():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    run_round(project.id)
    assert run_round(project.id) is None
    schedule.request_training(project)
    assert run_round(project.id).number == 2
    assert not Trainer.objects.get(project=project).requested


def test_a_live_claim_keeps_a_second_round_out_and_a_stale_one_is_taken_over():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    first = run_round(project.id)
    label_next(project, annotator, 20)
    token = schedule.claim(project.id)
    dead = ModelVersion.objects.create(
        project=project, number=2, model="logistic_regression", strategy="margin"
    )
    assert run_round(project.id) is None  # the claim is live
    Trainer.objects.filter(project=project).update(claimed_at=timezone.now() - timedelta(hours=1))
    # the previous version still serves while the claim is held
    assert schedule.serving_version(project.id) == first
    version = run_round(project.id)
    dead.refresh_from_db()
    assert dead.status == ModelVersion.Status.FAILED and "abandoned" in dead.error
    assert version.number == 3 and version.status == ModelVersion.Status.READY
    assert token != Trainer.objects.get(project=project).claim


def test_scoring_a_chunk_twice_counts_it_once():
    project, annotator = text_project(300, eval_share=0.0, retrain_every=5)
    label_next(project, annotator, 20)
    started = lifecycle.start_round(project.id)
    version, chunks = started.version, started.chunks
    low, high = chunks[0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lifecycle, "_finish", lambda v: v.save())
        lifecycle.score_chunk(version.id, 0, low, high)
    lifecycle.score_chunk(version.id, 0, low, high)
    version.refresh_from_db()
    assert RankedItem.objects.filter(ranking_id=version.id).count() == 300
    assert version.chunks_done == 1


def test_a_new_round_switches_the_queue_and_older_rankings_are_pruned():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    first = run_round(project.id)
    label_next(project, annotator, 20)
    second = run_round(project.id)
    assert schedule.serving_version(project.id) == second
    assert (
        services.next_item_for(project=project, user=annotator).prediction["version_id"]
        == second.id
    )
    assert lifecycle.tidy(project.id) == 300
    assert not RankedItem.objects.filter(ranking_id=first.id).exists()


def test_a_ranking_row_leaves_the_queue_when_its_item_closes_and_returns_when_it_reopens():
    project, annotator = text_project(300, eval_share=0.0)
    labelled = {item.id for item in label_next(project, annotator, 20)}
    version = run_round(project.id)

    def closed():
        return set(
            RankedItem.objects.filter(ranking_id=version.id, item_open=False).values_list(
                "item_id", flat=True
            )
        )

    assert closed() == labelled  # answered before the round: written out of the queue
    [answered] = label_next(project, annotator, 1)
    assert closed() == labelled | {answered.id}
    services.undo_annotation(annotation=Annotation.objects.get(item_id=answered.id))
    assert closed() == labelled
    services.update_project(project=project, overlap=2)  # every item wants a second answer
    assert closed() == set()
    [once] = label_next(project, annotator, 1)
    assert closed() == set() and Item.objects.get(id=once.id).status == "open"


def test_next_falls_back_to_random_order_once_every_ranked_item_is_taken():
    project, annotator = text_project(60, eval_share=0.0)
    label_next(project, annotator, 20)
    run_round(project.id)
    later = Item.objects.create(
        project=project,
        data={"text": "imported after the round", "label": project.labels.first().name},
    )
    served = {item.id for item in label_next(project, annotator, 100)}
    assert later.id in served
    assert not Item.objects.filter(project=project, status="open").exists()


def test_multi_label_round_end_to_end():
    project, annotator = text_project(300, multi_label=True, eval_share=0.0)
    label_next(project, annotator, 30)
    version = run_round(project.id)
    assert version.status == ModelVersion.Status.READY
    served = services.next_item_for(project=project, user=annotator)
    assert isinstance(served.prediction["labels"], list)
    assert 0.5 <= served.prediction["confidence"] <= 1.0


def test_stopping_state_is_decided_by_the_projects_rule():
    project, annotator = text_project(
        300, eval_share=0.0, stopping_rule={"kind": "budget", "labels": 30}
    )
    label_next(project, annotator, 20)
    assert run_round(project.id).stopping == {"stop": False, "reason": "20 of 30 labels used"}
    label_next(project, annotator, 10)
    assert run_round(project.id).stopping["stop"] is True


def test_kicks_are_coalesced_to_one_a_second_per_project(settings):
    settings.HITL_KICK_ROUNDS = True
    sent = [kick.kick(987_654) for _ in range(20)]
    assert sent.count(True) == 1


def test_an_admins_request_for_a_round_is_sent_even_right_after_an_answers_kick(settings):
    settings.HITL_KICK_ROUNDS = True
    kick._last_kick.clear()
    assert kick.kick(987_655) is True  # an answer's
    assert kick.kick(987_655) is False  # the next answer's, coalesced
    assert kick.kick(987_655, asked=True) is True  # POST /train/ is never swallowed


def test_no_kick_goes_out_while_a_round_is_in_flight_unless_its_worker_died(settings):
    settings.HITL_KICK_ROUNDS = True
    project, _annotator = text_project(40, eval_share=0.0)
    assert schedule.claim(project.id) is not None  # a round holds the claim
    kick._last_kick.clear()
    assert kick.kick(project.id) is False  # the round starts the next one itself if due
    Trainer.objects.filter(project=project).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.HITL_TRAINING_STALE_SECONDS + 1)
    )
    kick._last_kick.clear()
    assert kick.kick(project.id) is True  # its heartbeat stopped: a live worker should take over
    Trainer.objects.filter(project=project).update(claimed_at=None, claim="")  # it finished
    kick._last_kick.clear()
    assert kick.kick(project.id) is True


def test_a_committee_round_ranks_by_the_members_disagreement():
    project, annotator = text_project(300, eval_share=0.0, strategy="committee")
    label_next(project, annotator, 30)
    version = run_round(project.id)
    scores = list(RankedItem.objects.filter(ranking_id=version.id).values_list("score", flat=True))
    assert len(scores) == 300
    classes = project.labels.count()
    # vote entropy lies between 0 (all members agree) and log(members) for 5 members
    assert min(scores) >= 0 and max(scores) <= np.log(min(5, classes)) + 1e-9
    assert len(set(scores)) > 1


def test_between_rounds_an_sgd_model_learns_new_labels_and_reorders_its_queue():
    project, annotator = text_project(300, eval_share=0.0, model="sgd", retrain_every=30)
    label_next(project, annotator, 30)
    version = run_round(project.id)
    before = dict(RankedItem.objects.filter(ranking_id=version.id).values_list("item_id", "score"))
    label_next(project, annotator, 8)  # fewer than the cadence: no round is due
    assert run_round(project.id) is None
    RankedItem.objects.filter(ranking_id=version.id).update(top=None)
    rescored = adapting.adapt(project.id)
    after = dict(RankedItem.objects.filter(ranking_id=version.id).values_list("item_id", "score"))
    assert rescored > 0
    # the items re-scored get their new top labels too
    assert RankedItem.objects.filter(ranking_id=version.id, top__isnull=False).count() == rescored
    assert sum(before[i] != after[i] for i in after) >= rescored // 2
    assert schedule.serving_version(project.id) == version  # still the same version serving
    assert Trainer.objects.get(project=project).claim == ""  # the claim is released


def test_between_rounds_a_model_without_partial_fit_is_left_alone():
    project, annotator = text_project(300, eval_share=0.0, retrain_every=30)
    label_next(project, annotator, 30)
    version = run_round(project.id)
    before = set(RankedItem.objects.filter(ranking_id=version.id).values_list("item_id", "score"))
    label_next(project, annotator, 8)
    assert adapting.adapt(project.id) == 0
    assert (
        set(RankedItem.objects.filter(ranking_id=version.id).values_list("item_id", "score"))
        == before
    )


def test_items_with_client_feature_vectors_are_trained_and_scored_on_those_vectors(monkeypatch):
    from sklearn.datasets import load_digits

    digits = load_digits()
    project = ProjectFactory(labels=[str(d) for d in range(10)], eval_share=0.0)
    rows = [
        {"text": f"image {i}", "features": (digits.data[i] / 16).round(3).tolist(), "label": str(y)}
        for i, y in enumerate(digits.target[:400])
    ]
    imports.import_items(
        project=project, raw="\n".join(json.dumps(r) for r in rows).encode(), file_format="jsonl"
    )
    annotator = UserFactory()
    MembershipFactory(project=project, user=annotator, role="annotator")
    label_next(project, annotator, 60)
    seen = _unlabelled_rows_trained_on(monkeypatch)
    version = run_round(project.id)
    assert seen == [None]  # client vectors: the labels alone (engine.self_trains)
    assert version.status == ModelVersion.Status.READY
    assert store.load(version).featurizer is None  # the vectors, not the texts "image 12"
    assert version.items_scored == 400
    assert len(version.stop_set_predictions) == 400
    # Scored on pixels, the model is right about most of what it has not seen.
    unseen = RankedItem.objects.filter(ranking_id=version.id, item__status=Item.Status.OPEN)
    right = sum(r.predicted == [r.item.data["label"]] for r in unseen.select_related("item"))
    assert right / unseen.count() > 0.7


def test_before_the_first_model_the_diverse_seeds_are_served_first_and_chosen_once():
    project, annotator = text_project(300, eval_share=0.0, retrain_every=10)
    assert seeding.unseeded([project.id]) == [project.id]
    assert seeding.seed_pool(project.id) == 10
    assert seeding.seed_pool(project.id) == 0  # chosen once
    assert seeding.unseeded([project.id]) == []
    seeds = list(Seed.objects.filter(project=project).order_by("rank"))
    served = label_next(project, annotator, 10)
    assert [item.id for item in served] == [seed.item_id for seed in seeds]
    assert all(item.prediction is None for item in served)
    # Nearest the centres of the pool's clusters: more sections than a random 10 would miss.
    assert len({item.data["label"] for item in served}) >= 4
    assert run_round(project.id).trained_on == 10


def test_no_seeds_are_chosen_once_a_model_serves():
    project, annotator = text_project(300, eval_share=0.0, retrain_every=10)
    label_next(project, annotator, 10)
    run_round(project.id)
    assert seeding.seed_pool(project.id) == 0
    assert seeding.unseeded([project.id]) == []


def test_the_featurizer_is_stored_once_beside_the_models_that_use_it():
    # With the pool's directions a text featurizer is 80 MB on the shipped texts, the model a
    # few: it is written once per pool sample, not with every version.
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    first = run_round(project.id)
    label_next(project, annotator, 5)
    second = run_round(project.id)
    stored = [_unpickled(store.model_path(v)) for v in (first, second)]
    assert [bundle.featurizer for bundle in stored] == [None, None]
    assert stored[0].featurizer_file == stored[1].featurizer_file
    shared = store.model_path(second).parent / stored[1].featurizer_file
    assert store.model_path(second).stat().st_size < shared.stat().st_size / 3
    # A worker process that trained neither version reads each back whole: it predicts what
    # the version's round wrote (second's rankings; first's were pruned with its round).
    store.reset()
    assert store.load(first).featurizer is not None
    bundle = store.load(second)
    rows = list(RankedItem.objects.filter(ranking_id=second.id).select_related("item"))
    _scores, predicted, confidence = bundle.score([row.item.data for row in rows])
    assert [[bundle.classes[i]] for i in predicted] == [row.predicted for row in rows]
    assert np.allclose(confidence, [row.confidence for row in rows])


def _unpickled(path):
    """A model file's bundle as stored: the line of library versions, then the pickle."""
    with path.open("rb") as file:
        file.readline()
        return pickle.load(file)


def test_a_model_file_written_under_other_library_versions_is_refitted_not_unpickled():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    version = run_round(project.id)
    path = store.model_path(version)
    # another scikit-learn wrote it, and its pickle would not load here
    path.write_bytes(b'{"numpy": "1.0", "scipy": "1.0", "sklearn": "0.1"}\n' + b"not a pickle")
    store.reset()
    bundle = training.bundle_of(version)
    assert bundle.classes == [label.name for label in project.labels.order_by("order")]
    with path.open("rb") as file:
        assert json.loads(file.readline()) == artifacts.library_versions()  # written again
    rows = list(RankedItem.objects.filter(ranking_id=version.id).select_related("item")[:50])
    _scores, predicted, _confidence = bundle.score([row.item.data for row in rows])
    agree = sum(
        [bundle.classes[i]] == row.predicted for i, row in zip(predicted, rows, strict=True)
    )
    assert agree == len(rows)  # the same labels and seed, trained again: the same predictions


def test_a_round_that_raises_is_recorded_as_failed_and_not_retried_before_its_back_off(
    monkeypatch, settings
):
    settings.HITL_ROUND_RETRY_SECONDS, settings.HITL_ROUND_RETRY_MAX_SECONDS = 60, 100
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)

    def broken(*args, **kwargs):
        raise ValueError("the data broke training")

    monkeypatch.setattr(engine, "train", broken)
    with pytest.raises(ValueError):
        lifecycle.start_round(project.id)
    failed = ModelVersion.objects.get(project=project)
    assert failed.status == ModelVersion.Status.FAILED
    assert failed.error == "ValueError: the data broke training"
    trainer = Trainer.objects.get(project=project)
    assert (trainer.failures, trainer.claim) == (1, "")  # failed, and the claim is free
    assert trainer.retry_after - timezone.now() == pytest.approx(
        timedelta(seconds=60), abs=timedelta(seconds=5)
    )
    assert not schedule.needs_training(project)
    assert lifecycle.start_round(project.id) is None  # not before its back-off
    state = learning.state(project)["failure"]
    assert (state["version"], state["error"]) == (1, failed.error)

    def back_off_over():
        Trainer.objects.filter(project=project).update(retry_after=timezone.now())

    back_off_over()
    with pytest.raises(ValueError):
        lifecycle.start_round(project.id)  # fails again: the wait doubles, up to its cap
    trainer.refresh_from_db()
    assert trainer.failures == 2
    assert trainer.retry_after - timezone.now() == pytest.approx(
        timedelta(seconds=100), abs=timedelta(seconds=5)
    )
    monkeypatch.undo()
    back_off_over()
    version = run_round(project.id)
    assert (version.number, version.status) == (3, ModelVersion.Status.READY)
    trainer.refresh_from_db()
    assert (trainer.failures, trainer.retry_after) == (0, None)
    assert learning.state(project)["failure"] is None


def test_a_chunk_that_raises_fails_its_round_and_the_previous_version_keeps_serving(monkeypatch):
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    first = run_round(project.id)
    label_next(project, annotator, 5)
    started = lifecycle.start_round(project.id)
    monkeypatch.setattr(scoring, "score_range", lambda *a, **k: 1 / 0)
    low, high = started.chunks[0]
    with pytest.raises(ZeroDivisionError):
        lifecycle.score_chunk(started.version.id, 0, low, high)
    started.version.refresh_from_db()
    assert started.version.status == ModelVersion.Status.FAILED
    assert started.version.error == "ZeroDivisionError: division by zero"
    assert schedule.serving_version(project.id) == first
    assert services.next_item_for(project=project, user=annotator).prediction["version_id"] == (
        first.id
    )
    assert Trainer.objects.get(project=project).claim == ""
    assert lifecycle.tidy(project.id) == 0  # the failed ranking held no rows; it is dropped


def test_a_round_task_is_retried_while_the_database_is_away_and_the_round_is_not_failed(
    monkeypatch,
):
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    real, calls = training.fit, []

    def flaky(*args, **kwargs):  # the connection drops twice, as in a database restart
        calls.append(1)
        if len(calls) <= 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "fit", flaky)
    monkeypatch.setattr(tasks.transaction, "on_commit", lambda fan_out: None)  # no chunks sent
    result = tasks.train_project.apply(args=[project.id])
    assert result.successful() and len(calls) == 3
    versions = list(ModelVersion.objects.filter(project=project).order_by("number"))
    assert [v.status for v in versions] == ["failed", "failed", "scoring"]
    assert all(v.error.startswith("interrupted, retried: OperationalError") for v in versions[:2])
    trainer = Trainer.objects.get(project=project)
    assert (trainer.failures, trainer.retry_after) == (0, None)  # no back-off for it


def test_model_files_are_their_owners_alone_and_go_with_their_project():
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    version = run_round(project.id)
    folder = store.model_path(version).parent
    files = list(folder.iterdir())
    assert files and all(path.stat().st_mode & 0o077 == 0 for path in [folder, *files])
    other, other_annotator = text_project(100, eval_share=0.0)
    label_next(other, other_annotator, 20)
    kept = store.model_path(run_round(other.id)).parent
    deleted = project.id
    project.delete()
    assert lifecycle.forget_deleted_projects() == [deleted]
    assert not folder.exists() and kept.exists()


def test_a_chunk_whose_worker_died_is_sent_again_by_the_sweep_and_the_round_finishes(
    monkeypatch, settings
):
    project, annotator = text_project(300, eval_share=0.0)
    label_next(project, annotator, 20)
    settings.HITL_SCORE_CHUNK = 100
    started = lifecycle.start_round(project.id)
    version, chunks = started.version, started.chunks
    for index, (low, high) in enumerate(chunks[1:], start=1):  # the other chunks ran
        lifecycle.score_chunk(version.id, index, low, high)
    # chunk 0's worker was killed mid-chunk: its message waits out Redis's visibility timeout
    schedule.chunk_started(version.id, 0, *chunks[0])
    assert schedule.lost_chunks() == []  # its heartbeat is fresh: not lost yet
    ScoringChunk.objects.filter(version=version, index=0).update(
        beat_at=timezone.now() - timedelta(seconds=settings.HITL_TRAINING_STALE_SECONDS + 1)
    )
    sent = []
    monkeypatch.setattr(tasks.score_chunk, "delay", lambda *args: sent.append(args))
    monkeypatch.setattr(tasks.train_project, "delay", lambda *args: None)
    tasks.sweep()
    assert sent == [(version.id, 0, *chunks[0])]
    tasks.sweep()
    assert len(sent) == 1  # sent once, not at every sweep
    lifecycle.score_chunk(*sent[0])
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY
    assert not ScoringChunk.objects.filter(version=version).exists()
