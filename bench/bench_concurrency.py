"""16 annotators clicking without pause (get next, submit), on PostgreSQL or the SQLite default.

Afterwards the database is checked: no one answered an item twice or was served it twice, no
item other than a gold one has more answers than its overlap allows (max_overlap with the
label-quality options), and one row for every 201 the clients got (nothing lost).
Run: .venv/bin/python bench/bench_concurrency.py [--db postgres|sqlite] [--items N] [--seconds S]
"""

import argparse
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from common import (
    LeanClient,
    add_members,
    add_quality_options,
    apply_quality_options,
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


def db_counts(database_url, sqlite_path, project, allowed: int) -> tuple[int, int]:
    """(annotation rows, answers past what is allowed: a person's second answer to an item,
    or an item other than a gold one with more than `allowed` answers) for the project."""
    sql = (
        "SELECT (SELECT COUNT(*) FROM annotation_annotation a JOIN annotation_item i "
        "ON i.id = a.item_id WHERE i.project_id = %s), "
        "(SELECT COUNT(*) - COUNT(DISTINCT a.item_id || '-' || a.annotator_id) "
        "FROM annotation_annotation a JOIN annotation_item i ON i.id = a.item_id "
        "WHERE i.project_id = %s) + "
        "(SELECT COALESCE(SUM(n - %s), 0) FROM (SELECT COUNT(*) AS n FROM annotation_annotation a "
        "JOIN annotation_item i ON i.id = a.item_id WHERE i.project_id = %s AND i.gold IS NULL "
        "GROUP BY a.item_id) AS per_item WHERE n > %s)"
    )
    params = (project, project, allowed, project, allowed)
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            return conn.execute(sql, params).fetchone()
    with sqlite3.connect(sqlite_path) as conn:
        return conn.execute(sql.replace("%s", "?"), params).fetchone()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    add_quality_options(parser)
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
        quality = apply_quality_options(owner, project, args)
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
    # a person served the same item twice (each result is one person's)
    served_twice = sum(len(result[1]) - len(set(result[1])) for result in results)
    answered = sum(result[2] for result in results)
    errors = [e for result in results for e in result[3]]
    allowed = max(args.overlap, args.max_overlap or 0)
    rows_in_db, past_allowed = db_counts(database_url, sqlite_path, project, allowed)
    table(
        f"{ANNOTATORS} annotators without pause ({args.db}, gunicorn {args.workers} workers x "
        f"{args.threads} threads, {args.seconds:.0f} s; {quality})",
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
                served_twice + past_allowed,
                answered - rows_in_db,
                cores,
            ]
        ],
    )


if __name__ == "__main__":
    main()
