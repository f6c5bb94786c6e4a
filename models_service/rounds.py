"""A model round on the database side: claim the project, read consensus labels, train, write
the artifact, then score the pool in id-range chunks and switch the queue to the new version
when the last chunk lands. The learning itself is models_service.ml (no Django there).

PostgreSQL holds every piece of state a round needs (claim, version, chunks done), so a lost
broker message or a killed worker only delays a round: the sweeper starts it again.
"""

import dataclasses
import pickle
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef
from django.utils import timezone

from annotation.models import Annotation, Item, Lease, Project
from models_service.ml import engine, features, stopping, strategies
from models_service.models import ModelVersion, Ranking, Seed, Trainer
from models_service.schedule import cadence, claim, needs_training, release, serving_version

ITEM, ANSWER, RANKING = Item._meta.db_table, Annotation._meta.db_table, Ranking._meta.db_table
ANSWER_LABELS = Annotation.labels.through._meta.db_table
STOP_SET_SIZE = 500
ADAPT_HEAD = 2_000  # rankings re-scored by an incremental update between rounds
MAX_SEEDS = 50  # diverse items served before the first model
POOL_SAMPLE_SIZE = 5_000  # unlabelled texts the featurizer learns its vocabulary from
ANALYZE_AFTER_ROWS = 10_000  # a round this large changes what the planner should know
DIVERSE_BATCH = 50  # served first, one per cluster of the top candidates
DIVERSE_CANDIDATES = 10  # ... drawn from this many times as many of the most uncertain
FEATURE_CACHE_ROWS = 20_000  # a pool this small keeps its features in each worker process


# --- training ---------------------------------------------------------------------------------


def training_data(project: Project, *, answered_since=None, answered_until=None) -> dict:
    """Consensus targets of every labelled item (or of those answered since a moment, or of
    the answers given until one), split into training and evaluation sample."""
    labels = list(project.labels.order_by("order", "id").values_list("id", "name"))
    index_of = {label_id: i for i, (label_id, _name) in enumerate(labels)}
    answers: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    recent, params = "", [project.id]
    if answered_since is not None:
        recent = f" AND a.item_id IN (SELECT item_id FROM {ANSWER} WHERE created_at > %s)"
        params.append(connection.ops.adapt_datetimefield_value(answered_since))
    if answered_until is not None:
        recent += " AND a.created_at <= %s"
        params.append(connection.ops.adapt_datetimefield_value(answered_until))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.item_id, a.id, al.label_id FROM {ANSWER} a "
            f"JOIN {ITEM} i ON i.id = a.item_id "
            f"LEFT JOIN {ANSWER_LABELS} al ON al.annotation_id = a.id "
            f"WHERE i.project_id = %s AND NOT a.skipped{recent} ORDER BY a.item_id, a.id",
            params,
        )
        for item_id, answer_id, label_id in cursor.fetchall():
            chosen = answers[item_id][answer_id]
            if label_id is not None:
                chosen.append(index_of[label_id])
    split = {"train": ([], [], []), "eval": ([], [], [])}
    ids = sorted(answers)
    for start in range(0, len(ids), 900):
        batch = ids[start : start + 900]
        for item_id, data, in_eval in Item.objects.filter(id__in=batch).values_list(
            "id", "data", "in_eval"
        ):
            target = engine.consensus(
                list(answers[item_id].values()),
                multi_label=project.is_multi_label,
                n_classes=len(labels),
            )
            if target is None:
                continue
            item_ids, items, targets = split["eval" if in_eval else "train"]
            item_ids.append(item_id)
            items.append(data)
            targets.append(target)
    return {"classes": [name for _id, name in labels], **split}


def start_round(project_id: int) -> tuple[ModelVersion, list[tuple[int, int]]] | None:
    """Claim, train and store a new version; return it with the id ranges to score, or None
    when another round runs, nothing new is labelled, or the labels cannot train a model yet."""
    if not Project.objects.filter(id=project_id).exists():
        return None  # deleted since the round was asked for
    token = claim(project_id)
    if token is None:
        return None
    try:
        project = Project.objects.get(id=project_id)
        if not needs_training(project):
            release(project_id, token)
            return None
        data = training_data(project)
        train_ids, train_items, train_targets = data["train"]
        eval_ids, eval_items, eval_targets = data["eval"]
        if not _trainable(train_targets, project.is_multi_label):
            release(project_id, token)
            return None
        number = (project.model_versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            project=project,
            number=number,
            model=project.model,
            strategy=project.strategy,
            trained_on=len(train_items),
            eval_size=len(eval_items),
        )
        Trainer.objects.filter(project_id=project_id).update(requested=False)
        started = time.perf_counter()
        vectors = features.vectors_of(train_items) is not None
        sample_ids, sample = _pool_sample(project_id, vectors=vectors)
        pool_size = Item.objects.filter(project_id=project_id).count()
        featurizer_key = None if vectors else _featurizer_key(project_id, pool_size, sample_ids)
        featurizer = None if vectors else _pool_featurizer(featurizer_key, sample)
        unlabelled = None
        if engine.self_trains(
            len(train_items), multi_label=project.is_multi_label, sparse_features=not vectors
        ):
            unlabelled = _unlabelled_features(
                featurizer_key, featurizer, sample_ids, sample, train_ids + eval_ids
            )
        bundle = engine.train(
            train_items,
            train_targets,
            classes=data["classes"],
            multi_label=project.is_multi_label,
            model_name=project.model,
            strategy=project.strategy,
            pool_size=pool_size,
            eval_items=eval_items,
            eval_targets=eval_targets,
            featurizer=featurizer,
            seed=number,
            cross_validate=False,  # after the switch: see cross_validate
            unlabelled=unlabelled,
            rows=_rows.features(featurizer_key, featurizer, train_ids, train_items),
        )
        bundle.featurizer_key = featurizer_key
        _save(bundle, version)
        _remember_bundle(version, bundle)  # this process's chunks need not read it back
        version.metrics = bundle.metrics
        version.stop_set_predictions = _stop_set_predictions(
            bundle, sample_ids[:STOP_SET_SIZE], sample[:STOP_SET_SIZE]
        )
        version.timings = bundle.timings | {
            "train_total_s": round(time.perf_counter() - started, 3)
        }
        chunks = _id_ranges(project_id)
        version.chunks_total = len(chunks)
        version.status = ModelVersion.Status.SCORING
        version.save()
        if not chunks:
            with transaction.atomic():
                _finish(ModelVersion.objects.select_for_update().get(id=version.id))
        return version, chunks
    except BaseException:
        release(project_id, token)
        raise


def _unlabelled_features(key, featurizer, sample_ids, sample, labelled_ids):
    """Text features of the pool sample's items that carry no label, for the model to
    self-train on (engine.fit_model); evaluation items stay out, so that the sample stays
    unseen."""
    labelled = set(labelled_ids)
    keep = [k for k, item_id in enumerate(sample_ids) if item_id not in labelled]
    if not keep:
        return None
    ids = [sample_ids[k] for k in keep]
    return _rows.features(key, featurizer, ids, [sample[k] for k in keep])


def _trainable(targets: list, multi_label: bool) -> bool:
    if multi_label:
        return len(targets) >= 2
    return len(set(targets)) >= 2  # a classifier needs two classes to tell apart


def _project_dir(project_id: int) -> Path:
    """The folder of a project's model and featurizer files."""
    return settings.HITL_MODEL_DIR / f"project-{project_id}"


def artifact_path(version: ModelVersion) -> Path:
    """Where the platform keeps a version's model: a path it derives, never one a user gives."""
    return _project_dir(version.project_id) / f"v{version.number}.pickle"


def featurizer_path(project_id: int, key: tuple) -> Path:
    """Where a project's featurizer for one pool sample is kept, apart from the models that
    use it: a name built from integers and a known featurizer's name, never one a user gives."""
    _project, kind, sample_hash = key
    if kind not in features.FEATURIZERS:
        raise ValueError(f"unknown featurizer {kind!r}")
    name = f"featurizer-{kind}-{sample_hash & 0xFFFFFFFFFFFFFFFF:016x}.pickle"
    return _project_dir(project_id) / name


def prune_model_files(project_id: int) -> int:
    """Delete the model files of all but the project's newest HITL_MODEL_FILES_KEPT versions,
    never the serving one's; returns how many went. A file is read only while its version
    scores, serves or is cross-validated, and a project made a version every label or two
    early on (4 MB each on the shipped texts). The featurizer files, one per pool sample,
    stay."""
    kept = settings.HITL_MODEL_FILES_KEPT
    folder = _project_dir(project_id)
    if kept <= 0 or not folder.is_dir():
        return 0
    versions = ModelVersion.objects.filter(project_id=project_id).order_by("-number")
    keep = set(versions.values_list("number", flat=True)[:kept])
    if (serving := serving_version(project_id)) is not None:
        keep.add(serving.number)
    removed = 0
    for path in folder.glob("v*.pickle"):
        number = path.stem.removeprefix("v")
        if number.isdigit() and int(number) not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _save(bundle: engine.Bundle, version: ModelVersion) -> None:
    """Plain pickle, not joblib: joblib's pickler is the pure-Python one, and on a bundle whose
    text featurizer holds a vocabulary of 90,000 n-grams it took 2.5 s to write and 0.9 s to
    read where pickle takes 0.4 s and 0.07 s, on every round (docs/benchmarks.md).

    The featurizer is written once per pool sample, beside the versions: with the pool's
    directions it is 80 MB, against 4 MB for the model, and was written again every round."""
    path = artifact_path(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    if bundle.featurizer is not None and bundle.featurizer_key is not None:
        shared = featurizer_path(version.project_id, bundle.featurizer_key)
        # written again after a fresh fit: a test database can hand out a project's id twice
        if bundle.featurizer_key in _fitted_here or not shared.exists():
            _write(shared, bundle.featurizer)
            _fitted_here.discard(bundle.featurizer_key)
        bundle = dataclasses.replace(bundle, featurizer=None, featurizer_file=shared.name)
    _write(path, bundle)


def _write(path: Path, artifact) -> None:
    partial = path.with_suffix(".partial")
    with partial.open("wb") as file:
        pickle.dump(artifact, file, protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)  # a reader never sees half a file


def _read(version: ModelVersion) -> engine.Bundle:
    with artifact_path(version).open("rb") as file:
        bundle = pickle.load(file)  # noqa: S301  (written by _save above, never uploaded)
    if bundle.featurizer is None and bundle.featurizer_file:
        key = bundle.featurizer_key
        if key not in _featurizers:
            _remember_featurizer(key, _read_featurizer(featurizer_path(version.project_id, key)))
        bundle.featurizer = _featurizers[key]
    return bundle


def _read_featurizer(path: Path):
    with path.open("rb") as file:
        return pickle.load(file)  # noqa: S301  (written by _save above, never uploaded)


_loaded: dict[tuple, engine.Bundle] = {}


def load(version: ModelVersion) -> engine.Bundle:
    """The version's bundle, kept in this worker process for the chunks that follow (keyed by
    creation time too: a test database can hand out the same id twice)."""
    key = (version.id, version.created_at)
    if key not in _loaded:
        _remember_bundle(version, _read(version))
    return _loaded[key]


def _remember_bundle(version: ModelVersion, bundle: engine.Bundle) -> None:
    _loaded.clear()
    _loaded[version.id, version.created_at] = bundle


def _pool_sample(project_id: int, *, vectors: bool) -> tuple[list[int], list[dict]]:
    """A fixed random sample of the pool (lowest random keys, drawn once at import): its texts
    give the featurizer its vocabulary, and its head is the stabilizing rule's stop set."""
    rows = _chunk_rows(
        project_id, None, None, vectors=vectors, order="random_key", limit=POOL_SAMPLE_SIZE
    )
    return [item_id for item_id, _data, _open in rows], [data for _id, data, _open in rows]


_featurizers: dict[tuple, object] = {}
_fitted_here: set[tuple] = set()  # fitted in this process and not yet written


_rows = features.RowCache(capacity=FEATURE_CACHE_ROWS)


def _featurizer_key(project_id: int, pool_size: int, sample_ids: list[int]) -> tuple:
    """Names a project's featurizer: the same as long as the kind and the pool sample are."""
    return (project_id, engine.featurizer_for(pool_size), hash(tuple(sample_ids)))


def _pool_featurizer(key: tuple, sample: list[dict]):
    """The featurizer fitted on the project's pool sample, kept in this worker while the sample
    stays the same: refitting it every round gave the same vocabulary and cost a small
    project's round a second (texts the sample lacks still count, as unknown words)."""
    if key not in _featurizers:
        _remember_featurizer(key, features.fit(key[1], sample))
        _fitted_here.add(key)
    return _featurizers[key]


def _remember_featurizer(key: tuple, featurizer) -> None:
    if len(_featurizers) >= 8:
        _featurizers.clear()
    _featurizers[key] = featurizer


def _features(bundle: engine.Bundle, ids: list[int], items: list[dict]):
    """The items' features under the bundle's featurizer, from this worker's cache if it can."""
    return _rows.features(bundle.featurizer_key, bundle.featurizer, ids, items)


def _stop_set_predictions(bundle: engine.Bundle, ids: list[int], stop_set: list[dict]) -> list[int]:
    """Predictions on the stop set, for the stabilizing rule to compare across versions."""
    if not stop_set:
        return []
    predicted, _confidence = bundle.predictions(bundle.proba(_features(bundle, ids, stop_set)))
    return np.asarray(predicted).astype(int).ravel().tolist()


def _id_ranges(project_id: int) -> list[tuple[int, int]]:
    bounds = Item.objects.filter(project_id=project_id).aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    size = settings.HITL_SCORE_CHUNK
    return [
        (lo, min(lo + size, bounds["high"] + 1))
        for lo in range(bounds["low"], bounds["high"] + 1, size)
    ]


# --- scoring ----------------------------------------------------------------------------------


def score_chunk(version_id: int, index: int, low: int, high: int) -> None:
    """Score items low <= id < high under the version; idempotent (a retry rewrites the
    chunk's rows and counts it once); the chunk that completes the round switches the queue."""
    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None or version.status != ModelVersion.Status.SCORING:
        return  # finished, or abandoned by a newer round
    bundle = load(version)
    rows = _chunk_rows(version.project_id, low, high, vectors=bundle.featurizer is None)
    if rows:
        ids = [item_id for item_id, _data, _open in rows]
        X = _features(bundle, ids, [data for _id, data, _open in rows])
        scores, predicted, confidence = bundle.score_features(X, seed=index)
        names = _names(bundle, predicted)
        is_open = [item_open for _id, _data, item_open in rows]
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(id=version_id)
        if locked.status != ModelVersion.Status.SCORING:
            return
        done = set(locked.timings.get("chunks_done", []))
        if index in done:
            return
        if rows:
            _write_rankings(version_id, ids, scores, names, confidence, is_open)
        done.add(index)
        locked.timings["chunks_done"] = sorted(done)
        locked.chunks_done = len(done)
        locked.items_scored += len(rows)
        if locked.chunks_done >= locked.chunks_total:
            _finish(locked)
        else:
            locked.save(update_fields=["timings", "chunks_done", "items_scored"])
            # The round is alive: keep its claim fresh, so that a long round is not taken for
            # a dead worker's (HITL_TRAINING_STALE_SECONDS is then the longest gap between
            # chunks, not the longest round).
            Trainer.objects.filter(project_id=locked.project_id, claimed_at__isnull=False).update(
                claimed_at=timezone.now()
            )
    _analyze_if_outgrown(locked.items_scored)


def _analyze_if_outgrown(rows_written: int) -> None:
    """Refresh the planner's statistics of the rankings once a round has written more than
    twice the rows they count (plus ANALYZE_AFTER_ROWS).

    Why: a connection keeps a next-item plan made while the table was nearly empty (a fresh
    database, or one a crash emptied), and with a million rows that plan read the whole table
    on every call: 13 s a call in the round-scale bench, where autovacuum is off (where it runs,
    it catches up within a minute). An ANALYZE makes every connection plan again."""
    if connection.vendor != "postgresql" or rows_written < ANALYZE_AFTER_ROWS:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [RANKING])
        counted = max(cursor.fetchone()[0], 0)  # -1: never counted
        if rows_written > 2 * counted + ANALYZE_AFTER_ROWS:
            cursor.execute(f"ANALYZE {RANKING}")


def _chunk_rows(
    project_id: int,
    low: int | None,
    high: int | None,
    *,
    vectors: bool,
    order: str = "id",
    limit: int | None = None,
) -> list[tuple]:
    """(id, data, open) of a project's items low <= id < high, with data cut to what the model
    reads: the text, or the client's feature vector (decoding whole JSON documents cost more
    than scoring them)."""
    field = "features" if vectors else "text"
    if connection.vendor == "postgresql":
        extract = "i.data -> 'features'" if vectors else "i.data ->> 'text'"
    else:
        extract = f"json_extract(i.data, '$.{field}')"  # arrays come back as JSON text
    where, params = ["i.project_id = %s"], [project_id]
    if low is not None:
        where.append("i.id >= %s AND i.id < %s")
        params += [low, high]
    sql = (
        f"SELECT i.id, {extract}, i.status = 'open' FROM {ITEM} i "
        f"WHERE {' AND '.join(where)} ORDER BY i.{order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    if vectors:
        fetched = [
            (item_id, orjson.loads(value) if isinstance(value, str) else value, item_open)
            for item_id, value, item_open in fetched
        ]
    return [(item_id, {field: value}, bool(item_open)) for item_id, value, item_open in fetched]


def _names(bundle: engine.Bundle, predicted) -> list[bytes]:
    classes = bundle.classes
    if bundle.multi_label:
        return [
            orjson.dumps([classes[j] for j in np.flatnonzero(row)]) for row in np.asarray(predicted)
        ]
    encoded = [orjson.dumps([name]) for name in classes]
    return [encoded[i] for i in predicted]


def _write_rankings(version_id, ids, scores, names, confidence, is_open) -> None:
    rows = zip(ids, scores.tolist(), names, confidence.tolist(), is_open, strict=True)
    columns = "version_id, item_id, score, predicted, confidence, item_open"
    if connection.vendor == "postgresql":
        sql = f"COPY {RANKING} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for item_id, score, name, conf, item_open in rows:
                copy.write_row((version_id, item_id, score, name.decode(), conf, item_open))
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {RANKING} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)",
            [(version_id, i, s, n.decode(), c, o) for i, s, n, c, o in rows],
        )


def _finish(version: ModelVersion) -> None:
    """Close the round (caller holds the version's row lock): put a diverse batch on top,
    decide the stopping rule, serve this version, release the claim."""
    bundle = load(version) if version.strategy == "diverse_margin" else None
    if bundle is not None:
        _diversify_top(version, bundle, known_until=version.created_at)
    version.stopping = decide_stopping(version)
    version.status = ModelVersion.Status.READY
    version.finished_at = timezone.now()
    version.timings["round_s"] = round(
        (version.finished_at - version.created_at).total_seconds(), 3
    )
    version.timings.pop("chunks_done", None)
    version.save()
    Trainer.objects.filter(project_id=version.project_id).update(claimed_at=None, claim="")
    project_id, keep = version.project_id, version.id
    transaction.on_commit(lambda: after_round(project_id, keep))


def after_round(project_id: int, keep_version_id: int) -> None:
    """Drop older versions' rankings; start the next round if labels kept arriving, else
    cross-validate the version now serving."""
    from models_service import tasks

    tasks.prune_rankings.delay(project_id, keep_version_id)
    if needs_training(Project.objects.get(id=project_id)):
        tasks.train_project.delay(project_id)
    else:
        tasks.cross_validate.delay(keep_version_id)


def cross_validate(version_id: int) -> bool:
    """Cross-validate the serving version on its training labels and store the figures.

    Why after the round: the three folds' fits took as long as the rest of a small round's
    training and held up the switch to the new ranking; here they hold up nothing. A version
    already replaced (labels kept arriving) is skipped, so early on, with a round every label
    or two, most versions carry no cross-validated figures; the evaluation sample's are the
    unbiased ones anyway. Returns whether figures were stored."""
    version = ModelVersion.objects.filter(id=version_id).select_related("project").first()
    if version is None or version.cv_metrics:
        return False
    serving = serving_version(version.project_id)
    if serving is None or serving.id != version.id:
        return False
    project = version.project
    # the answers the version could have been trained on: given before its row was written
    data = training_data(project, answered_until=version.created_at)
    ids, items, targets = data["train"]
    sample = engine.cv_sample(len(ids), version.number)
    if sample is not None:
        ids, items, targets = ([values[i] for i in sample] for values in (ids, items, targets))
    bundle = load(version)
    X = bundle.model_input(_features(bundle, ids, items))
    figures = engine.cross_validated(
        version.model,
        X,
        np.asarray(targets),
        data["classes"],
        project.is_multi_label,
        version.number,
        out_of=None if sample is None else len(data["train"][0]),
    )
    ModelVersion.objects.filter(id=version.id).update(cv_metrics=figures)
    return bool(figures)


def prune_rankings(project_id: int, keep_version_id: int) -> int:
    """Drop older versions' rankings; after a large round, refresh the planner's statistics."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {RANKING} WHERE version_id IN (SELECT id FROM "
            f"{ModelVersion._meta.db_table} WHERE project_id = %s AND id < %s)",
            [project_id, keep_version_id],
        )
        pruned = cursor.rowcount
    scored = ModelVersion.objects.filter(id=keep_version_id).values_list("items_scored", flat=True)
    if connection.vendor == "postgresql" and (scored.first() or 0) >= ANALYZE_AFTER_ROWS:
        # Else the queue's ranked stage is planned from the statistics of an older (or empty)
        # table until autovacuum gets round to it, if it runs at all; as imports do for items.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RANKING}")
    return pruned


def _diversify_top(version: ModelVersion, bundle: engine.Bundle, known_until=None) -> None:
    """Re-score the top candidates so that the first DIVERSE_BATCH served are one per cluster
    of the DIVERSE_BATCH * DIVERSE_CANDIDATES most uncertain: annotators working in parallel
    do not all get near-duplicates, and an early batch does not all come from one corner of
    the pool (the cold-start trap: pure uncertainty order made a first batch of 100 texts worth
    less than a random one, a wide candidate set made it worth more; docs/benchmarks.md).

    Clusters near an item being labelled already (see `_in_hand`) come last."""
    top = list(
        Ranking.objects.filter(
            version=version, item_open=True, item__status=Item.Status.OPEN, item__in_eval=False
        )
        .order_by("-score")
        .values_list("id", "score", "item_id", "item__data")[: DIVERSE_BATCH * DIVERSE_CANDIDATES]
    )
    if len(top) <= 1:
        return
    scores = np.asarray([score for _id, score, _item, _data in top])
    X = _features(bundle, [item for *_, item, _data in top], [data for *_, data in top])
    in_hand = _in_hand(version.project_id, known_until)
    covered = _features(bundle, *map(list, zip(*in_hand, strict=True))) if in_hand else None
    order = engine.diverse_order(X, scores, DIVERSE_BATCH, covered=covered)
    ceiling = float(scores.max())
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {RANKING} SET score = %s WHERE id = %s",
            [
                (ceiling + len(order) - rank, top[position][0])
                for rank, position in enumerate(order)
            ],
        )


def _in_hand(project_id: int, known_until=None) -> list[tuple[int, dict]]:
    """(id, data) of the items whose labels the model does not know yet but soon will: held
    by an annotator now, or answered after `known_until` (the version's training read), among
    the project's latest DIVERSE_BATCH answers. Evaluation draws never train, so they are left
    out. With three annotators, serving next to these cost labels: the ranking is a round
    behind what they are teaching it."""
    held = Lease.objects.filter(
        project_id=project_id, expires_at__gt=timezone.now(), item__in_eval=False
    ).values_list("item_id", "item__data")
    in_hand = dict(held[:DIVERSE_BATCH])
    if known_until is not None:
        recent = (
            Annotation.objects.filter(item__project_id=project_id)
            .order_by("-id")
            .values_list("item_id", "item__data", "item__in_eval", "created_at")[:DIVERSE_BATCH]
        )
        for item_id, data, in_eval, created_at in recent:
            if created_at > known_until and not in_eval:
                in_hand[item_id] = data
    return list(in_hand.items())


# --- before the first model: diverse seeds ----------------------------------------------------


def seed_pool(project_id: int) -> int:
    """Choose the items to serve before the project's first model: one nearest each k-means
    centre of the pool sample, as many as the first model trains on (schedule.cadence, at
    most MAX_SEEDS). Does nothing once seeds or a model version exist; returns how many it chose."""
    project = Project.objects.filter(id=project_id).first()
    if project is None or project.model_versions.exists():
        return 0
    if Seed.objects.filter(project_id=project_id).exists():
        return 0
    sample_ids, sample = _pool_sample(project_id, vectors=True)
    if sample and features.vectors_of(sample) is not None:
        X = features.vectors_of(sample)
    else:
        sample_ids, sample = _pool_sample(project_id, vectors=False)
        if not sample:
            return 0
        pool_size = Item.objects.filter(project_id=project_id).count()
        key = _featurizer_key(project_id, pool_size, sample_ids)
        featurizer = _pool_featurizer(key, sample)  # kept for v1
        X = _rows.features(key, featurizer, sample_ids, sample)  # and so are these rows
    count = min(cadence(0, project.retrain_every), MAX_SEEDS, len(sample_ids))
    # clustered in the texts' main directions: seconds, not tens of seconds, on 5,000 texts
    chosen = strategies.cold_start(strategies.topics(X, project_id), count, seed=project_id)
    Seed.objects.bulk_create(
        [
            Seed(project_id=project_id, item_id=sample_ids[index], rank=rank)
            for rank, index in enumerate(chosen)
        ],
        ignore_conflicts=True,  # two workers seeding at once choose the same items
    )
    return len(chosen)


def unseeded(project_ids: list[int]) -> list[int]:
    """Of these projects, those with items but neither seeds nor a model version yet."""
    return list(
        Project.objects.filter(id__in=project_ids)
        .filter(Exists(Item.objects.filter(project=OuterRef("pk"))))
        .exclude(Exists(ModelVersion.objects.filter(project=OuterRef("pk"))))
        .exclude(Exists(Seed.objects.filter(project=OuterRef("pk"))))
        .values_list("id", flat=True)
    )


# --- between rounds: incremental updates -------------------------------------------------------


def adapt(project_id: int) -> int:
    """Between full rounds, fit the serving model further on the labels that came since it was
    trained (estimators with partial_fit: SGD, complement NB) and re-score the head of its
    queue, so that the next items served reflect answers given seconds ago. Returns how many
    rankings were re-scored (0: nothing to do, a round holds the claim, or no partial_fit).

    Always starts again from the version's stored model with every label since, so any worker
    can do it and repeating it changes nothing."""
    version = serving_version(project_id)
    if version is None or not engine.can_adapt(version.model):
        return 0
    token = claim(project_id)
    if token is None:
        return 0  # a round is in flight: its version will know these labels
    try:
        project = Project.objects.get(id=project_id)
        data = training_data(project, answered_since=version.created_at)
        _ids, items, targets = data["train"]
        bundle = _read(version)  # a fresh copy: the cache stays pristine
        if not engine.adapt(bundle, items, targets):
            return 0
        head = list(
            Ranking.objects.filter(
                version=version, item_open=True, item__status=Item.Status.OPEN, item__in_eval=False
            )
            .order_by("-score")
            .values_list("id", "item__data")[:ADAPT_HEAD]
        )
        if not head:
            return 0
        scores, predicted, confidence = bundle.score([data for _id, data in head])
        names = _names(bundle, predicted)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {RANKING} SET score = %s, predicted = %s, confidence = %s WHERE id = %s",
                [
                    (score, name.decode(), conf, ranking_id)
                    for (ranking_id, _data), score, name, conf in zip(
                        head, scores.tolist(), names, confidence.tolist(), strict=True
                    )
                ],
            )
            if version.strategy == "diverse_margin":
                _diversify_top(version, bundle)
        return len(head)
    finally:
        release(project_id, token)


def rule_for(project: Project):
    spec = project.stopping_rule or {}
    kind = spec.get("kind", "stabilizing")
    if kind == "budget":
        return stopping.LabelBudget(int(spec["labels"]))
    if kind == "target":
        # judged on 50 evaluation items, or on the whole sample where the project keeps fewer
        enough = min(stopping.TargetMetric.min_evaluated, max(1, project.eval_sample_size))
        return stopping.TargetMetric(float(spec["metric"]), min_evaluated=enough)
    return stopping.StabilizingPredictions(
        float(spec.get("threshold", 0.99)), int(spec.get("rounds", 3))
    )


def decide_stopping(version: ModelVersion) -> dict:
    history = list(
        ModelVersion.objects.filter(
            project_id=version.project_id, status=ModelVersion.Status.READY
        ).order_by("number")
    ) + [version]
    rounds = [
        stopping.Round(
            labels=v.trained_on + v.eval_size,
            metric=v.metrics.get("accuracy"),
            stop_set_predictions=(
                np.asarray(v.stop_set_predictions) if v.stop_set_predictions else None
            ),
            evaluated=v.metrics.get("n", 0),
        )
        for v in history
    ]
    decision = rule_for(version.project).decide(rounds)
    return {"stop": decision.stop, "reason": decision.reason}
