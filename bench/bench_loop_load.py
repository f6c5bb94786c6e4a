"""The hot path with the model in the loop on and off, side by side in one run.

  on   the defaults: HITL_KICK_ROUNDS=true and the beat running, so imports ask for their
       seeds and answers for rounds
  off  HITL_KICK_ROUNDS=false and no beat: no seeding, no rounds

For each setting, on a fresh PostgreSQL database with gunicorn and the Celery processes as
docker-compose.yml runs them (the loop's worker on queue `celery`, the imports' worker on
queue `imports` with one process, and the beat when on), on Redis 127.0.0.1:6379 db 11:

  a  imports: --before-projects projects of --before-items texts imported through the API
     one after the other (each asks for its seeds when on), then at once a --items-row JSON
     Lines file uploaded with ?async=true to one more project; seconds from the upload to
     the job's `succeeded` (GET /api/v1/imports/{id}/), items/s end to end, and how long the
     job waited in its queue and ran
  b  annotators: a project of --items texts whose words give their class away, --labels of
     them labelled through the API and, when on, a first model trained on them; then
     --annotators simulated annotators answering without pause (next, then the true class)
     for --seconds, the project's retrain_every at --retrain-every so that rounds keep
     running when on; before them, one annotator alone for --probe-seconds (the next-item
     latency as bench_next_item and bench_round_scale measure it). For each: answers/s and
     next p99 over the window and while a round was in flight, next p50, the rounds that
     started, finished and failed in the window and the share of it with a round in flight,
     errors

Each part's table has both settings side by side, the ratio on/off and the targets (issue:
with the loop on, a 100k-row import >= 80% of its speed with it off; while a round runs,
next p99 <= 15 ms, for one annotator as docs/benchmarks.md reads that target, and 16
annotators >= 200 answers/s).

About five minutes at the default sizes on 2 cores.
Run: .venv/bin/python bench/bench_loop_load.py [--items 100000] [--seconds 30]
     [--probe-seconds 15] [--settings off on] [--parts a b] [--before-projects 3]
     [--before-items 20000] [--labels 300] [--retrain-every 1] [--annotators 16]
     [--concurrency 2] [--logs DIR]
"""

import argparse
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import psycopg
from common import (
    CLASSES,
    LeanClient,
    add_members,
    client,
    create_project,
    drop_postgres,
    flush_redis,
    fresh_postgres,
    import_jsonl,
    jsonl_body,
    label_with_truth,
    make_users,
    percentile,
    pool_jsonl,
    production_workers,
    server,
    server_env,
    table,
)

BROKER = "redis://127.0.0.1:6379/11"
DATABASE = "hitl_bench_loop"
SETTINGS = {
    "on": {"HITL_KICK_ROUNDS": "true"},
    "off": {"HITL_KICK_ROUNDS": "false"},
}
WAIT_S = 600  # for a seed, a first model or an import job, at most


# --- part a: an import behind the seeding of the ones before it ---------------------------


def import_after_others(api, database_url: str, args) -> dict:
    before = []
    for n in range(args.before_projects):
        project = create_project(api, f"before-{n}")
        import_jsonl(api, project, jsonl_body(args.before_items, prefix=f"b{n}-"))
        before.append(project)
    project = create_project(api, "large upload")
    body = jsonl_body(args.items, prefix="big-")
    started = time.perf_counter()
    response = api.post(
        f"/api/v1/projects/{project}/items/import/?async=true",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    response.raise_for_status()
    job = response.json()
    while job["status"] not in ("succeeded", "failed"):
        if time.perf_counter() - started > WAIT_S:
            raise RuntimeError(f"the import job is still {job['status']} after {WAIT_S} s")
        time.sleep(0.05)
        job = api.get(f"/api/v1/imports/{job['id']}/").json()
    elapsed = time.perf_counter() - started
    if job["status"] != "succeeded":
        raise RuntimeError(f"the import job failed: {job['errors'][:3]}")
    at = {key: datetime.fromisoformat(job[key]) for key in ("created_at", "started_at")}
    finished = datetime.fromisoformat(job["finished_at"])
    return {
        "status": job["status"],
        "MB": len(body) / 1e6,
        "seconds": elapsed,
        "waited": (at["started_at"] - at["created_at"]).total_seconds(),
        "ran": (finished - at["started_at"]).total_seconds(),
        "items/s": job["created_count"] / elapsed,
        "seeded": seeded(database_url, before),
    }


def seeded(database_url: str, projects: list[int]) -> int:
    """How many of these projects have their seeds already."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT COUNT(DISTINCT project_id) FROM annotation_seed WHERE project_id = ANY(%s)",
            (projects,),
        ).fetchone()[0]


# --- part b: annotators while rounds run --------------------------------------------------


def annotate(base, token, project, deadline, results, lock):
    """Next, then the true class, without pause until `deadline`; appends (moment the next
    was asked, next s, answer s or None, error or None) per call to `results`."""
    api = LeanClient(base, token)
    calls = []
    while time.perf_counter() < deadline:
        started, at = time.perf_counter(), time.time()
        status, item = api.get(f"/api/v1/projects/{project}/next/")
        asked = time.perf_counter() - started
        if status == 204:
            break  # the pool is done
        if status != 200:
            calls.append((at, asked, None, f"next {status}"))
            continue
        started = time.perf_counter()
        status, _ = api.post(
            f"/api/v1/items/{item['id']}/annotations/",
            {"labels": [item["data"]["truth"]], "lead_time_ms": 1},
        )
        error = None if status == 201 else f"answer {status}"
        calls.append((at, asked, time.perf_counter() - started, error))
    with lock:
        results.extend(calls)


def window(base, tokens, names, database_url: str, project: int, seconds: float) -> dict:
    """These annotators at once for `seconds`; what they saw, and the rounds meanwhile."""
    calls, lock = [], threading.Lock()
    start = database_now(database_url)
    started = time.perf_counter()
    threads = [
        threading.Thread(
            target=annotate, args=(base, tokens[n], project, started + seconds, calls, lock)
        )
        for n in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    rounds = rounds_in(database_url, project, start, database_now(database_url))

    def in_rounds(at: float) -> bool:
        return any(low <= at < high for low, high in rounds["spans"])

    answered = [c for c in calls if c[2] is not None and c[3] is None]
    during = [c for c in calls if in_rounds(c[0])]
    busy = sum(high - low for low, high in rounds["spans"])
    return {
        "answers/s": len(answered) / elapsed,
        # answers whose next was asked while a round was in flight, per second of rounds
        "answers/s in rounds": (
            sum(1 for c in during if c[2] is not None and c[3] is None) / busy if busy else None
        ),
        "next": [c[1] for c in calls],
        "next in rounds": [c[1] for c in during],
        "round trip": [c[1] + c[2] for c in answered],
        "errors": [c[3] for c in calls if c[3]],
        "rounds": rounds,
    }


def first_model(api, database_url: str, project: int) -> None:
    """Ask for a round now and wait until its version serves."""
    # a kick less than 0.25 s after the last answer's is coalesced away (models_service.kick):
    # the request would wait for the beat's sweep
    time.sleep(0.3)
    api.post(f"/api/v1/projects/{project}/train/").raise_for_status()
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            status = conn.execute(
                "SELECT status FROM models_service_modelversion WHERE project_id = %s "
                "ORDER BY number DESC LIMIT 1",
                (project,),
            ).fetchone()
            if status and status[0] == "ready":
                return
            if status and status[0] == "failed":
                raise RuntimeError("the first round failed")
            time.sleep(0.1)
    raise RuntimeError(f"no first model after {WAIT_S} s")


def wait_for_seeds(database_url: str, project: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while seeded(database_url, [project]) == 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no seeds after {WAIT_S} s")
        time.sleep(0.1)


def database_now(database_url: str) -> datetime:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def rounds_in(database_url: str, project: int, start: datetime, end: datetime) -> dict:
    """The project's rounds that started and that finished in [start, end], failed ones, the
    share of the window during which a round was in flight, and those spans (epoch s)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT status, created_at, finished_at FROM models_service_modelversion "
            "WHERE project_id = %s AND created_at <= %s AND (finished_at IS NULL "
            "OR finished_at >= %s) ORDER BY created_at",
            (project, end, start),
        ).fetchall()
    spans, reach = [], start
    for _status, created, finished in rows:  # the union of the rounds' spans in the window
        low, high = max(created, reach), min(finished or end, end)
        if high > low:
            spans.append((low.timestamp(), high.timestamp()))
            reach = high
    return {
        "started": sum(1 for _s, created, _f in rows if created >= start),
        "ready": sum(1 for s, _c, finished in rows if s == "ready" and finished <= end),
        "failed": sum(1 for s, _c, _f in rows if s == "failed"),
        "busy": sum(b - a for a, b in spans) / (end - start).total_seconds(),
        "spans": spans,
    }


def annotators_while_rounds_run(base, tokens, database_url: str, on: bool, args) -> dict:
    names = [f"annotator{n}" for n in range(args.annotators)]
    admin = client(base, tokens["owner"])
    # no round from labels while the first ones come in (retrain_every is set below)
    project = create_project(admin, "annotators", labels=CLASSES, retrain_every=100_000)
    add_members(admin, project, names)
    import_jsonl(admin, project, pool_jsonl(args.items))
    if on:
        wait_for_seeds(database_url, project)  # as people would: they are served first
    label_with_truth(base, tokens[names[0]], project, args.labels)
    if on:
        first_model(admin, database_url, project)
    admin.patch(
        f"/api/v1/projects/{project}/", json={"retrain_every": args.retrain_every}
    ).raise_for_status()
    return {
        "one": window(base, tokens, names[:1], database_url, project, args.probe_seconds),
        "all": window(base, tokens, names, database_url, project, args.seconds),
    }


# --- one setting, then the tables ---------------------------------------------------------


def run_setting(setting: str, args, var: Path, logs: Path) -> dict:
    on = setting == "on"
    database_url = fresh_postgres(DATABASE)
    flush_redis(BROKER)
    env = server_env(
        database_url,
        var,
        HITL_MODEL_DIR=str(var / "models"),
        CELERY_BROKER_URL=BROKER,
        **SETTINGS[setting],
    )
    results = {}
    try:
        with (
            server(env) as (base, _web),
            production_workers(env, beat=on, concurrency=args.concurrency, logs=logs),
        ):
            names = [f"annotator{n}" for n in range(args.annotators)]
            tokens = make_users(env, ["owner", *names])
            if "a" in args.parts:
                api = client(base, tokens["owner"])
                results["a"] = import_after_others(api, database_url, args)
            if "b" in args.parts:
                results["b"] = annotators_while_rounds_run(base, tokens, database_url, on, args)
    finally:
        flush_redis(BROKER)
        drop_postgres(DATABASE)
    return results


def side_by_side(results: dict, rows: list[tuple]) -> list[list]:
    """A row per measure (name, its value in a setting's results, format, whether to give
    the ratio on/off, target): the settings side by side."""
    out = []
    for name, value, form, ratio, target in rows:
        values = {s: value(r) for s, r in results.items()}
        cells = ["-" if values.get(s) is None else form.format(values[s]) for s in ("off", "on")]
        if ratio and len(values) == 2 and values["off"] and values["on"] is not None:
            cells.append(f"{values['on'] / values['off']:.2f}")
        else:
            cells.append("-")
        out.append([name, *cells, target])
    return out


def import_rows(results: dict, before: int) -> list[list]:
    return side_by_side(
        results,
        [
            ("job status", lambda r: r["status"], "{}", None, ""),
            ("upload MB", lambda r: r["MB"], "{:.1f}", None, ""),
            ("s waiting in the queue", lambda r: r["waited"], "{:.2f}", None, ""),
            ("s running", lambda r: r["ran"], "{:.2f}", None, ""),
            ("s from upload to succeeded", lambda r: r["seconds"], "{:.2f}", True, ""),
            ("items/s end to end", lambda r: r["items/s"], "{:,.0f}", True, "on >= 0.80 x off"),
            (
                f"of the {before} projects before, seeded by then",
                lambda r: r["seeded"],
                "{}",
                None,
                "",
            ),
        ],
    )


def hot_path_rows(results: dict, annotators: int) -> list[list]:
    def p(q: int, key: str):
        return lambda r: 1000 * percentile(r[key], q) if r[key] else None

    rows = []
    for who, name, targets in [
        ("one", "one annotator", {"next p99 ms while a round was in flight": "on <= 15"}),
        (
            "all",
            f"{annotators} annotators",
            {"answers/s while a round was in flight": "on >= 200"},
        ),
    ]:
        measures = [
            ("answers/s", lambda r: r["answers/s"], "{:.0f}", True),
            (
                "answers/s while a round was in flight",
                lambda r: r["answers/s in rounds"],
                "{:.0f}",
                None,
            ),
            ("next p50 ms", p(50, "next"), "{:.1f}", True),
            ("next p99 ms", p(99, "next"), "{:.1f}", True),
            (
                "next calls while a round was in flight",
                lambda r: len(r["next in rounds"]),
                "{:,}",
                None,
            ),
            ("next p99 ms while a round was in flight", p(99, "next in rounds"), "{:.1f}", None),
            ("next + answer p99 ms", p(99, "round trip"), "{:.1f}", True),
            (
                "rounds started / ready / failed",
                lambda r: "{started} / {ready} / {failed}".format(**r["rounds"]),
                "{}",
                None,
            ),
            (
                "share of the window with a round in flight",
                lambda r: r["rounds"]["busy"],
                "{:.0%}",
                None,
            ),
            ("errors", lambda r: len(r["errors"]), "{}", None),
        ]
        rows += side_by_side(
            {setting: r[who] for setting, r in results.items()},
            [
                (f"{name}: {measure}", value, form, ratio, targets.get(measure, ""))
                for measure, value, form, ratio in measures
            ],
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--items", type=int, default=100_000, help="rows of the async upload (a), pool (b)"
    )
    parser.add_argument("--seconds", type=float, default=30, help="the annotators' window (b)")
    parser.add_argument(
        "--probe-seconds", type=float, default=15, help="the one annotator's window, before (b)"
    )
    parser.add_argument("--settings", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--parts", nargs="+", choices=["a", "b"], default=["a", "b"])
    parser.add_argument("--before-projects", type=int, default=3, help="imports before (a)")
    parser.add_argument("--before-items", type=int, default=20_000, help="texts in each (a)")
    parser.add_argument("--labels", type=int, default=300, help="labels before the window (b)")
    parser.add_argument(
        "--retrain-every", type=int, default=1, help="the project's setting in the window (b)"
    )
    parser.add_argument("--annotators", type=int, default=16)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="the loop worker's pool processes"
    )
    parser.add_argument("--logs", type=Path, help="keep the Celery logs here")
    args = parser.parse_args()
    results = {}
    for setting in args.settings:
        with tempfile.TemporaryDirectory() as tmp:
            logs = args.logs / setting if args.logs else Path(tmp)
            logs.mkdir(parents=True, exist_ok=True)
            results[setting] = run_setting(setting, args, Path(tmp), logs)
    if "a" in args.parts:
        table(
            f"(a) A {args.items:,}-row JSON Lines upload (?async=true) right after "
            f"{args.before_projects} imports of {args.before_items:,} texts (PostgreSQL; "
            "imports on a queue and worker of their own)",
            ["measure", "loop off", "loop on", "on/off", "target"],
            import_rows({s: r["a"] for s, r in results.items()}, args.before_projects),
        )
    if "b" in args.parts:
        table(
            f"(b) The hot path on {args.items:,} texts after {args.labels} labels (retrain_every "
            f"{args.retrain_every}; when on, rounds run meanwhile): one annotator without "
            f"pause for {args.probe_seconds:.0f} s, then {args.annotators} for "
            f"{args.seconds:.0f} s",
            ["measure", "loop off", "loop on", "on/off", "target"],
            hot_path_rows({s: r["b"] for s, r in results.items()}, args.annotators),
        )


if __name__ == "__main__":
    main()
