"""Next-item latency for one annotator on a 100,000-item project (PostgreSQL, gunicorn).

Each round: GET next (timed alone), then POST the annotation (timed with it). The label-quality
options (--overlap, --max-overlap, --gold, --gold-share) measure what they add to the path.
Run: .venv/bin/python bench/bench_next_item.py [--items 100000] [--rounds 2000]
     [--overlap 3 --max-overlap 4 --gold 200 --gold-share 0.1]
"""

import argparse
import tempfile
import time
from pathlib import Path

from common import (
    LeanClient,
    add_members,
    add_quality_options,
    apply_quality_options,
    client,
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    add_quality_options(parser)
    args = parser.parse_args()
    env = server_env(
        fresh_postgres("hitl_bench_next"),
        Path(tempfile.mkdtemp()),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
    )
    with server(env) as (base, _):
        tokens = make_users(env, ["owner", "solo"])
        owner = client(base, tokens["owner"])
        project = create_project(owner, "next item bench")
        add_members(owner, project, ["solo"])
        import_jsonl(owner, project, jsonl_body(args.items))
        quality = apply_quality_options(owner, project, args)
        api = LeanClient(base, tokens["solo"])  # httpx alone took about 1 ms a call
        for _ in range(50):  # warm up connections and caches
            _, item = api.get(f"/api/v1/projects/{project}/next/")
            api.post(f"/api/v1/items/{item['id']}/annotations/", {"labels": ["pos"]})
        next_times, round_times = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            status, item = api.get(f"/api/v1/projects/{project}/next/")
            served = time.perf_counter()
            assert status == 200, status
            status, _ = api.post(
                f"/api/v1/items/{item['id']}/annotations/",
                {"labels": ["neg"], "lead_time_ms": 1000},
            )
            done = time.perf_counter()
            assert status == 201, status
            next_times.append(served - start)
            round_times.append(done - start)
    rows = [
        [
            name,
            f"{args.items:,}",
            args.rounds,
            ms(percentile(values, 50)),
            ms(percentile(values, 95)),
            ms(percentile(values, 99)),
            target,
        ]
        for name, values, target in [
            ("next", next_times, "p50 <= 5, p99 <= 15"),
            ("next + submit", round_times, ""),
        ]
    ]
    table(
        f"One annotator (PostgreSQL, gunicorn 2 workers x 8 threads, client on the same "
        f"machine; {quality})",
        ["call", "pool", "rounds", "p50 ms", "p95 ms", "p99 ms", "target ms"],
        rows,
    )


if __name__ == "__main__":
    main()
