"""One full model round at scale: train on 5,000 labels, score the whole pool, write the
ranking, switch the queue; for pools of 100,000 and 1,000,000 short texts on PostgreSQL, with
one and then two worker processes. While the second round is written, one annotator draws
and answers items without pause, to show the queue stays fast and never empty.

Run: .venv/bin/python bench/bench_round_scale.py [--sizes 100000 1000000]
"""

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
from common import (
    CLASSES,
    LeanClient,
    add_members,
    client,
    create_project,
    fresh_postgres,
    import_jsonl,
    make_users,
    ms,
    percentile,
    pool_jsonl,
    server,
    server_env,
    table,
    worker,
)

IDLE_PROBE_S = 15


def label_directly(database_url: str, project: int, user_id: int, count: int) -> None:
    """Give `count` random items one annotation each with their true label, in bulk SQL."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO annotation_annotation (item_id, annotator_id, lead_time_ms, skipped, "
            "ambiguous, needs_expert, comment, prediction_shown, created_at, updated_at) "
            "SELECT id, %s, 1000, false, false, false, '', false, now(), now() "
            "FROM annotation_item WHERE project_id = %s ORDER BY random_key LIMIT %s",
            (user_id, project, count),
        )
        conn.execute(
            "INSERT INTO annotation_annotation_labels (annotation_id, label_id) "
            "SELECT a.id, l.id FROM annotation_annotation a "
            "JOIN annotation_item i ON i.id = a.item_id "
            "JOIN annotation_label l ON l.project_id = i.project_id AND l.name = i.data->>'truth' "
            "WHERE i.project_id = %s",
            (project,),
        )
        conn.execute(
            "UPDATE annotation_item SET annotation_count = 1, status = 'done' WHERE id IN "
            "(SELECT item_id FROM annotation_annotation)"
        )
        conn.execute("ANALYZE")


def version_row(database_url: str, project: int, number: int):
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT status, timings, items_scored, chunks_total, trained_on, metrics, cv_metrics, "
            "created_at FROM models_service_modelversion WHERE project_id = %s AND number = %s",
            (project, number),
        ).fetchone()


def run_round(admin: httpx.Client, database_url: str, project: int, number: int) -> dict:
    started, requested_at = time.perf_counter(), time.time()
    admin.post(f"/api/v1/projects/{project}/train/").raise_for_status()
    while True:
        row = version_row(database_url, project, number)
        if row and row[0] in ("ready", "failed"):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    status, timings, scored, chunks, trained_on, metrics, cv, created_at = row
    # cross-validation follows the switch as a task of its own: wait for it here, or it would
    # run into the next round's measurement (its message outlives this worker)
    while not cv and status == "ready" and time.perf_counter() - started < elapsed + 300:
        time.sleep(0.2)
        cv = version_row(database_url, project, number)[6]
    cv_after = time.perf_counter() - started - elapsed
    # when scoring began, on the client's clock (same machine): the version row is written
    # before training, so scoring starts train_total_s after it
    scoring_from = created_at.timestamp() + (timings.get("train_total_s") or 0.0)
    return {
        "requested_at": requested_at,
        "scoring_from": scoring_from,
        "finished_at": requested_at + elapsed,
        "status": status,
        "seconds": elapsed,
        "round_s": timings.get("round_s"),
        "train_s": timings.get("train_total_s"),
        "scored": scored,
        "chunks": chunks,
        "trained_on": trained_on,
        "cv_accuracy": cv.get("accuracy"),
        "cv_after_s": cv_after,
    }


def annotate_during(base, token, project, running, latencies, moments, empties):
    api = LeanClient(base, token)  # as in bench_next_item: httpx alone took about 1 ms a call
    while running.is_set():
        started, at = time.perf_counter(), time.time()
        status, item = api.get(f"/api/v1/projects/{project}/next/")
        latencies.append(time.perf_counter() - started)
        moments.append(at)
        if status == 204:
            empties.append(1)
            continue
        api.post(f"/api/v1/items/{item['id']}/annotations/", {"labels": [item["data"]["truth"]]})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--labels", type=int, default=5_000)
    parser.add_argument(
        "--env", nargs="*", default=[], metavar="NAME=VALUE", help="extra settings for the run"
    )
    parser.add_argument(
        "--logs", type=Path, help="keep the worker logs here (task names and durations)"
    )
    args = parser.parse_args()
    extra = dict(pair.split("=", 1) for pair in args.env)
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    rows, queue_rows, phase_rows = [], [], []
    for size in args.sizes:
        database_url = fresh_postgres("hitl_bench_rounds")
        with tempfile.TemporaryDirectory() as tmp:
            env = server_env(
                database_url,
                Path(tmp),
                HITL_MODEL_DIR=str(Path(tmp) / "models"),
                CELERY_BROKER_URL="redis://127.0.0.1:6379/12",
                # the train request reaches the worker at once; labels alone never make a
                # round due (retrain_every below), so no other round starts meanwhile
                HITL_KICK_ROUNDS="true",
                **extra,
            )
            with server(env, workers=2, threads=4) as (base, _web):
                tokens = make_users(env, ["admin", "ann"])
                admin = client(base, tokens["admin"])
                # rounds only when the bench asks (the probe's labels must not start one)
                project = create_project(
                    admin,
                    f"scale-{size}",
                    labels=CLASSES,
                    eval_share=0.0,
                    retrain_every=100_000,
                )
                add_members(admin, project, ["ann"])
                import_jsonl(admin, project, pool_jsonl(size))
                with psycopg.connect(database_url) as conn:
                    (admin_id,) = conn.execute(
                        "SELECT id FROM auth_user WHERE username = 'admin'"
                    ).fetchone()
                label_directly(database_url, project, admin_id, args.labels)
                for number, concurrency in ((1, 1), (2, 2)):
                    log = (args.logs or Path(tmp)) / f"worker-{size}-{concurrency}.log"
                    with worker(env, concurrency=concurrency, beat=False, log=log):
                        latencies, moments, empties = [], [], []
                        running = threading.Event()
                        running.set()
                        probe = threading.Thread(
                            target=annotate_during,
                            args=(
                                base,
                                tokens["ann"],
                                project,
                                running,
                                latencies,
                                moments,
                                empties,
                            ),
                        )
                        probe.start()
                        if number == 1:
                            time.sleep(IDLE_PROBE_S)  # the same load with no round running
                        idle = len(latencies), len(empties)
                        result = run_round(admin, database_url, project, number)
                        running.clear()
                        probe.join()
                    rows.append(
                        [
                            f"{size:,}",
                            concurrency,
                            result["status"],
                            result["trained_on"],
                            result["train_s"],
                            f"{result['seconds']:.1f}",
                            result["round_s"],
                            f"{result['scored']:,}",
                            result["chunks"],
                            f"{result['scored'] / result['seconds']:,.0f}",
                            f"{result['cv_accuracy']}",
                        ]
                    )
                    during = sum(1 for at in moments if at < result["finished_at"])
                    phases = [
                        ("no round", latencies[: idle[0]], empties[: idle[1]]),
                        (
                            f"round, {concurrency} worker process(es)",
                            latencies[idle[0] : during],
                            empties[idle[1] :],
                        ),
                    ]
                    phase_rows += round_phases(
                        size, concurrency, result, latencies[idle[0] :], moments[idle[0] :]
                    )
                    for phase, calls, empty in phases[1:] if number > 1 else phases:
                        queue_rows.append(
                            [
                                f"{size:,}",
                                phase,
                                len(calls),
                                ms(percentile(calls, 50)),
                                ms(percentile(calls, 99)),
                                len(empty),
                            ]
                        )
    table(
        "One full round: train, score the pool, write the ranking, switch (PostgreSQL)",
        [
            "pool",
            "worker processes",
            "status",
            "trained on",
            "train s",
            "round s (request to serving)",
            "round s (version row to serving)",
            "items scored",
            "chunks",
            "items/s",
            "cv accuracy",
        ],
        rows,
    )
    table(
        "One annotator (next + submit, no pause): with the worker idle, then while each round "
        "is written",
        ["pool", "while", "next calls", "next p50 ms", "next p99 ms", "empty answers"],
        queue_rows,
    )
    table(
        f"Where in the round the slow next calls fall (slow: over {SLOW_MS} ms)",
        [
            "pool",
            "worker processes",
            "phase",
            "seconds",
            "next calls",
            "next p50 ms",
            "next p99 ms",
            "slow calls",
        ],
        phase_rows,
    )


SLOW_MS = 15


def round_phases(size, concurrency, result, latencies, moments) -> list[list]:
    """The round's next calls split at the moment scoring began: training (the worker
    featurizes and fits) and scoring (chunks score and COPY their rows); then the
    cross-validation that follows the switch."""
    cv_until = result["finished_at"] + result["cv_after_s"]
    bounds = [
        ("training", result["requested_at"], result["scoring_from"]),
        ("scoring and switch", result["scoring_from"], result["finished_at"]),
        ("cross-validation, after the switch", result["finished_at"], cv_until),
    ]
    rows = []
    for phase, start, end in bounds:
        calls = [lat for lat, at in zip(latencies, moments, strict=True) if start <= at < end]
        rows.append(
            [
                f"{size:,}",
                concurrency,
                phase,
                f"{end - start:.1f}",
                len(calls),
                ms(percentile(calls, 50)) if calls else "-",
                ms(percentile(calls, 99)) if calls else "-",
                sum(1 for lat in calls if lat * 1000 > SLOW_MS),
            ]
        )
    return rows


if __name__ == "__main__":
    main()
