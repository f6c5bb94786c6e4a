"""Import speed through the API: 100,000 items as JSON Lines and as CSV, on PostgreSQL.

Time is from the request's start to its 201 answer, when the items are committed and visible.
Run: .venv/bin/python bench/bench_import.py [--items 100000] [--repeat 3]
"""

import argparse
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
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = server_env(
        fresh_postgres("hitl_bench_import"),
        Path(tempfile.mkdtemp()),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
    )
    with server(env) as (base, _):
        token = make_users(env, ["importer"])["importer"]
        api = client(base, token)
        rows = []
        for name, content_type, make in [
            ("JSON Lines", "application/x-ndjson", jsonl_body),
            ("CSV", "text/csv", csv_body),
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
                    "50,000",
                ]
            )
    table(
        "Import through the API (PostgreSQL, COPY)",
        ["format", "items", "MB", "median s", "best s", "items/s (median)", "target items/s"],
        rows,
    )


if __name__ == "__main__":
    main()
