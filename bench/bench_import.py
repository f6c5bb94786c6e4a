"""Import speed through the API: 100,000 items as JSON Lines and as CSV, on PostgreSQL, and
as JSON Lines whose every row brings labels (each an answer, written with the item).

Time is from the request's start to its 201 answer, when the items are committed and visible.
With --duplicates, re-imports instead: into a project that holds the file's rows already, the
same file with ?on_duplicate=skip, with new texts and ?on_duplicate=update, and a file of
half new, half present rows with skip (the default, reject, is the first table's path).
Run: .venv/bin/python bench/bench_import.py [--items 100000] [--repeat 3] [--duplicates]
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from common import (
    client,
    create_project,
    csv_body,
    fresh_postgres,
    jsonl_body,
    make_users,
    median,
    server,
    server_env,
    table,
    texts,
)


def labelled_jsonl_body(n: int, prefix: str = "l") -> bytes:
    """JSON Lines rows, each with one of the bench project's labels: every row an answer."""
    labels = ["pos", "neg", "neutral"]
    return "\n".join(
        json.dumps({"external_id": f"{prefix}{i}", "text": t, "labels": [labels[i % 3]]})
        for i, t in enumerate(texts(n))
    ).encode()


def _timed_import(api, project: int, body: bytes, query: str = "") -> tuple[float, dict]:
    start = time.perf_counter()
    response = api.post(
        f"/api/v1/projects/{project}/items/import/{query}",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    elapsed = time.perf_counter() - start
    assert response.status_code == 201, response.text[:300]
    return elapsed, response.json()


def duplicates(api, args) -> None:
    """Re-imports of a project's rows: skip them all, update them all, half new with skip."""
    n = args.items
    cases = {"skip, all present": [], "update, all present": [], "skip, half present": []}
    for attempt in range(args.repeat):
        project = create_project(api, f"re-import {attempt}")
        body = jsonl_body(n, prefix=f"d{attempt}-")
        _timed_import(api, project, body)
        elapsed, answer = _timed_import(api, project, body, "?on_duplicate=skip")
        assert answer["skipped"] == n, answer
        cases["skip, all present"].append(elapsed)
        changed = body.replace(b'"text": "', b'"text": "changed ')
        elapsed, answer = _timed_import(api, project, changed, "?on_duplicate=update")
        assert answer["updated"] == n, answer
        cases["update, all present"].append(elapsed)
        lines = body.split(b"\n")[n // 2 :]
        half = b"\n".join(lines + jsonl_body(n - len(lines), prefix=f"h{attempt}-").split(b"\n"))
        elapsed, answer = _timed_import(api, project, half, "?on_duplicate=skip")
        assert (answer["created"], answer["skipped"]) == (n - len(lines), len(lines)), answer
        cases["skip, half present"].append(elapsed)
    rows = [
        [name, f"{n:,}", f"{median(times):.2f}", f"{min(times):.2f}", f"{n / median(times):,.0f}"]
        for name, times in cases.items()
    ]
    table(
        "Re-import through the API (PostgreSQL): rows already present",
        ["case", "rows", "median s", "best s", "rows/s (median)"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--duplicates", action="store_true", help="time re-imports with on_duplicate instead"
    )
    args = parser.parse_args()
    env = server_env(
        fresh_postgres(os.environ.get("BENCH_DATABASE", "hitl_bench_import")),
        Path(tempfile.mkdtemp()),
        CELERY_BROKER_URL=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14"),
    )
    with server(env) as (base, _):
        token = make_users(env, ["importer"])["importer"]
        api = client(base, token)
        if args.duplicates:
            duplicates(api, args)
            return
        rows = []
        for name, content_type, make, target in [
            ("JSON Lines", "application/x-ndjson", jsonl_body, "50,000"),
            ("CSV", "text/csv", csv_body, "50,000"),
            ("JSON Lines, labelled", "application/x-ndjson", labelled_jsonl_body, "-"),
        ]:
            times = []
            for attempt in range(args.repeat):
                body = make(args.items, prefix=f"r{attempt}-")
                project = create_project(api, f"import {name} {attempt}")
                start = time.perf_counter()
                response = api.post(
                    f"/api/v1/projects/{project}/items/import/",
                    content=body,
                    headers={"Content-Type": content_type},
                )
                elapsed = time.perf_counter() - start
                assert response.status_code == 201, response.text[:300]
                count = api.get(f"/api/v1/projects/{project}/progress/").json()["total"]
                assert count == args.items, count
                times.append(elapsed)
            rows.append(
                [
                    name,
                    f"{args.items:,}",
                    f"{len(body) / 1e6:.1f}",
                    f"{median(times):.2f}",
                    f"{min(times):.2f}",
                    f"{args.items / median(times):,.0f}",
                    target,
                ]
            )
    table(
        "Import through the API (PostgreSQL, COPY)",
        ["format", "items", "MB", "median s", "best s", "items/s (median)", "target items/s"],
        rows,
    )


if __name__ == "__main__":
    main()
