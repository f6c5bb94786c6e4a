"""Peak memory of a web process and an import worker while large uploads are imported.

A real gunicorn (one worker process, 8 threads, so that its memory can be read) and a real
Celery worker on the imports queue (prefork, one pool process), on PostgreSQL and Redis, with
the platform's default sizes: uploads up to HITL_IMPORT_SYNC_MAX_BYTES (16 MB) are imported in
the request, larger ones become a job that the worker runs. Before each case both processes'
peak resident size (VmHWM) is reset (/proc/PID/clear_refs), so each row shows the peak of that
case alone, against the process's resident size when idle (after a warm-up import).

Cases: JSON Lines uploads of 10, 100 and 250 MB (rows of ~500 bytes), four 250 MB uploads at
once, and a file of 1,000,000 short rows (~45 MB, ~45 bytes a row).
Run: .venv/bin/python bench/bench_upload_memory.py [--skip-parallel] [--sizes 10 100 250]
"""

import argparse
import json
import os
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from common import (
    WORDS,
    children,
    client,
    create_project,
    fresh_postgres,
    make_users,
    rss_kib,
    server,
    server_env,
    table,
    worker,
)

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
DATABASE = os.environ.get("BENCH_DATABASE", "hitl_bench_upload_memory")
MB = 1_000_000


def write_rows(path: Path, *, target_bytes: int | None = None, rows: int | None = None) -> int:
    """Write a JSON Lines file of long rows up to target_bytes, or of `rows` short rows; return
    its row count."""
    rng = random.Random(11)
    count = size = 0
    with path.open("wb") as file:
        while (rows is None or count < rows) and (target_bytes is None or size < target_bytes):
            words = rng.choices(WORDS, k=70 if rows is None else 3)
            line = json.dumps({"external_id": f"r{count}", "text": " ".join(words)}) + "\n"
            encoded = line.encode()
            file.write(encoded)
            size += len(encoded)
            count += 1
    return count


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # 5: reset the peak resident size


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def upload(api, project: int, path: Path, query: str = "") -> dict:
    """Send the file as the request body (streamed from disk); wait for its job if it has one."""
    size = path.stat().st_size

    def chunks():
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                yield chunk

    start = time.perf_counter()
    response = api.post(
        f"/api/v1/projects/{project}/items/import/{query}",
        content=chunks(),
        headers={"Content-Type": "application/x-ndjson", "Content-Length": str(size)},
    )
    answered = time.perf_counter() - start
    assert response.status_code in (201, 202), response.text[:500]
    body = response.json()
    if response.status_code == 201:
        return {"mode": "request", "answered": answered, "done": answered, "rows": body["created"]}
    while True:
        job = api.get(body["url"]).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    done = time.perf_counter() - start
    return {"mode": "job", "answered": answered, "done": done, "rows": job["created_count"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 250], help="MB")
    parser.add_argument("--million-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-parallel", action="store_true")
    args = parser.parse_args()
    files = Path(tempfile.mkdtemp())
    cases = []
    for size in args.sizes:
        rows = write_rows(files / f"{size}mb.jsonl", target_bytes=size * MB)
        cases.append((f"{size} MB", [files / f"{size}mb.jsonl"], rows))
    if not args.skip_parallel:
        big = files / f"{max(args.sizes)}mb.jsonl"
        cases.append((f"4 x {max(args.sizes)} MB at once", [big] * 4, cases[-1][2] * 4))
    rows = write_rows(files / "million.jsonl", rows=args.million_rows)
    cases.append((f"{args.million_rows:,} rows", [files / "million.jsonl"], rows))

    env = server_env(fresh_postgres(DATABASE), files / "var", CELERY_BROKER_URL=BROKER)
    env["HITL_IMPORT_SYNC_MAX_BYTES"] = str(16 * 1024 * 1024)  # the default
    env["HITL_KICK_ROUNDS"] = "false"  # no rounds: this measures the import alone
    table_rows = []
    (files / "var").mkdir()
    with (
        server(env, workers=1, threads=8) as (base, master),
        worker(env, concurrency=1, beat=False) as importer,
    ):
        web = children(master.pid)[0]
        api = client(base, make_users(env, ["uploader"])["uploader"])
        api.timeout = 3600
        small = files / "small.jsonl"
        write_rows(small, rows=100)
        upload(api, create_project(api, "warm-up"), small)  # the first request loads the views
        upload(api, create_project(api, "warm-up job"), small, "?async=true")  # and the task
        pool = children(importer.pid)[0]
        web_idle, pool_idle = rss_kib(web)["VmRSS"], rss_kib(pool)["VmRSS"]
        for name, paths, row_count in cases:
            reset_peak(web)
            reset_peak(pool)
            projects = [create_project(api, f"{name} {n}") for n in range(len(paths))]
            started = time.perf_counter()
            with ThreadPoolExecutor(len(paths)) as pool_of_clients:
                results = list(pool_of_clients.map(partial(upload, api), projects, paths))
            elapsed = time.perf_counter() - started
            assert len(results) == len(paths), "an upload failed"
            assert sum(r["rows"] for r in results) == row_count
            web_now, pool_now = rss_kib(web), rss_kib(pool)
            web_peak, pool_peak = web_now["VmHWM"], pool_now["VmHWM"]
            job = results[0]["mode"] == "job"
            table_rows.append(
                [
                    name,
                    f"{sum(p.stat().st_size for p in paths) / MB:.0f}",
                    f"{row_count:,}",
                    results[0]["mode"],
                    mib(web_idle),
                    mib(web_peak),
                    mib(web_peak - web_idle),
                    mib(web_now["VmRSS"]),
                    mib(pool_idle),
                    mib(pool_peak) if job else "-",
                    mib(pool_peak - pool_idle) if job else "-",
                    mib(pool_now["VmRSS"]),
                    f"{max(r['answered'] for r in results):.1f}",
                    f"{elapsed:.1f}",
                    f"{row_count / elapsed:,.0f}",
                ]
            )
            print(table_rows[-1], flush=True)
    table(
        "Upload memory (PostgreSQL, Redis; gunicorn 1 worker x 8 threads, importer prefork x 1)",
        [
            "upload",
            "MB",
            "rows",
            "imported in",
            "web idle MiB",
            "web peak MiB",
            "web over idle",
            "web after MiB",
            "worker idle MiB",
            "worker peak MiB",
            "worker over idle",
            "worker after MiB",
            "answered s",
            "done s",
            "rows/s",
        ],
        table_rows,
    )
    print("targets: web <= 150 MiB over idle for any upload; worker <= 300 MiB over idle, 1M rows")


if __name__ == "__main__":
    main()
