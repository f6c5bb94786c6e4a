"""16 annotators clicking without pause (get next, submit), on PostgreSQL or the SQLite default.

Afterwards the database is checked: no item answered twice (overlap 1: no duplicate
assignment) and one row for every 201 the clients got (nothing lost).
Run: .venv/bin/python bench/bench_concurrency.py [--db postgres|sqlite] [--items N] [--seconds S]
"""

import argparse
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from common import (
    LeanClient,
    add_members,
    client,
    cores_used,
    cpu_seconds,
    create_project,
    fresh_postgres,
    import_jsonl,
    jsonl_body,
    make_users,
    ms,
    percentile,
    server,
    server_env,
    table,
)

ANNOTATORS = 16


def annotate(base, token, project, deadline, results, lock):
    api = LeanClient(base, token)
    rounds, served, answered, errors = [], [], 0, []
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        status, body = api.get(f"/api/v1/projects/{project}/next/")
        if status == 204:
            break
        if status != 200:
            errors.append(status)
            continue
        served.append(body["id"])
        status, _ = api.post(
            f"/api/v1/items/{body['id']}/annotations/", {"labels": ["pos"], "lead_time_ms": 1}
        )
        if status == 201:
            answered += 1
        else:
            errors.append(status)
        rounds.append(time.perf_counter() - start)
    with lock:
        results.append((rounds, served, answered, errors))


def db_counts(database_url, sqlite_path, project) -> tuple[int, int]:
    """(annotation rows, items with more than one annotation) for the project."""
    sql = (
        "SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT a.item_id) FROM annotation_annotation a "
        "JOIN annotation_item i ON i.id = a.item_id WHERE i.project_id = %s"
    )
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            return conn.execute(sql, (project,)).fetchone()
    with sqlite3.connect(sqlite_path) as conn:
        return conn.execute(sql.replace("%s", "?"), (project,)).fetchone()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp())
    sqlite_path = var_dir / "bench.sqlite3"
    if args.db == "postgres":
        database_url = fresh_postgres("hitl_bench_crowd")
        env = server_env(database_url, var_dir, CELERY_BROKER_URL="redis://127.0.0.1:6379/14")
    else:
        database_url = None
        env = server_env(None, var_dir, HITL_SQLITE_PATH=str(sqlite_path))
    names = [f"annotator{n}" for n in range(ANNOTATORS)]
    with server(env, workers=args.workers, threads=args.threads) as (base, _):
        tokens = make_users(env, ["owner", *names])
        owner = client(base, tokens["owner"])
        project = create_project(owner, "crowd")
        add_members(owner, project, names)
        import_jsonl(owner, project, jsonl_body(args.items))
        results, lock = [], threading.Lock()
        cpu_before = cpu_seconds()
        start = time.perf_counter()
        threads = [
            threading.Thread(
                target=annotate,
                args=(base, tokens[n], project, start + args.seconds, results, lock),
            )
            for n in names
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        cores = cores_used(cpu_before, cpu_seconds(), elapsed)
    rounds = [r for result in results for r in result[0]]
    served = [s for result in results for s in result[1]]
    answered = sum(result[2] for result in results)
    errors = [e for result in results for e in result[3]]
    rows_in_db, doubly_answered = db_counts(database_url, sqlite_path, project)
    duplicate_serves = sum(n - 1 for n in Counter(served).values() if n > 1)
    table(
        f"{ANNOTATORS} annotators without pause ({args.db}, gunicorn {args.workers} workers x "
        f"{args.threads} threads, {args.seconds:.0f} s)",
        [
            "pool",
            "annotations",
            "annotations/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "duplicate assignments",
            "lost (201s - rows)",
            "cores used (of 2)",
        ],
        [
            [
                f"{args.items:,}",
                answered,
                f"{answered / elapsed:.0f}",
                ms(percentile(rounds, 50)),
                ms(percentile(rounds, 99)),
                len(errors),
                duplicate_serves + doubly_answered,
                answered - rows_in_db,
                cores,
            ]
        ],
    )


if __name__ == "__main__":
    main()
