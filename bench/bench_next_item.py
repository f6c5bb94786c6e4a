"""Next-item latency for one annotator on a 100,000-item project (PostgreSQL, gunicorn).

Each round: GET next (timed alone), then POST the annotation (timed with it). The label-quality
options (--overlap, --max-overlap, --gold, --gold-share) measure what they add to the path.
--annotators N: N people take the rounds in turn, one call at a time, so that an item of
overlap 3 gets its other answers as it would in a team (one person alone never completes one:
every item they answered stays open for others at the head of the queue, and each call walks
past all of them).
Run: .venv/bin/python bench/bench_next_item.py [--items 100000] [--rounds 2000]
     [--overlap 3 --max-overlap 4 --gold 200 --gold-share 0.1] [--annotators 3]
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
    parser.add_argument("--annotators", type=int, default=1, help="who take the rounds in turn")
    add_quality_options(parser)
    args = parser.parse_args()
    env = server_env(
        fresh_postgres("hitl_bench_next"),
        Path(tempfile.mkdtemp()),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
    )
    with server(env) as (base, _):
        people = ["solo"] if args.annotators == 1 else [f"a{n}" for n in range(args.annotators)]
        tokens = make_users(env, ["owner", *people])
        owner = client(base, tokens["owner"])
        project = create_project(owner, "next item bench")
        add_members(owner, project, people)
        import_jsonl(owner, project, jsonl_body(args.items))
        quality = apply_quality_options(owner, project, args)
        # httpx alone took about 1 ms a call
        apis = [LeanClient(base, tokens[person]) for person in people]
        for turn in range(50):  # warm up connections and caches
            api = apis[turn % len(apis)]
            _, item = api.get(f"/api/v1/projects/{project}/next/")
            api.post(f"/api/v1/items/{item['id']}/annotations/", {"labels": ["pos"]})
        next_times, round_times = [], []
        for turn in range(args.rounds):
            api = apis[turn % len(apis)]
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
        f"{'One annotator' if args.annotators == 1 else f'{args.annotators} annotators in turn'}"
        f" (PostgreSQL, gunicorn 2 workers x 8 threads, client on the same machine; {quality})",
        ["call", "pool", "rounds", "p50 ms", "p95 ms", "p99 ms", "target ms"],
        rows,
    )


if __name__ == "__main__":
    main()
