"""How soon the model in the loop recovers when a round is cut short: the worker killed
outright, or PostgreSQL restarted, while a round scores the pool.

Each scenario builds a project of --items short texts whose words give their class away
(bench/common.pool_jsonl) and has one simulated annotator label it through the API (`next`,
then the true class) until a first model serves, then label more so that a second round
runs. Once that round is `scoring` with a chunk done (of several: HITL_SCORE_CHUNK, 20,000 by
default), the crash:

  kill      kill -9 of the loop worker's whole process group, and a new worker started at
            once, as a supervisor (docker compose, systemd) would; seconds from the kill
  postgres  the bench's PostgreSQL cluster stopped (fast), down --outage seconds, started;
            seconds from the moment it answers again (pg_isready)

Measured: seconds until a new round starts (a version row newer than the one cut short
appears, or that one completes) and until a version newer than the first serves (`ready`).
The platform's defaults throughout: a round's claim refreshed every 5 s while a task of it
runs (HITL_HEARTBEAT_SECONDS), dead after 30 s without (HITL_TRAINING_STALE_SECONDS), the
beat's sweep every 15 s (HITL_SWEEP_SECONDS). Target: a new round within 60 s.

It runs gunicorn, the Celery processes as docker-compose.yml does (the loop's worker, the
imports' worker, the beat) on Redis 127.0.0.1:6379 db 10, and a PostgreSQL cluster of its
own, since scenario B restarts it: Debian's `pg_createcluster <version> hitlbench --port 5433
-- --auth=trust` when missing, started for the run and stopped again if the bench started it
(never the machine's main cluster on 5432). Needs root, for pg_ctlcluster.

About five minutes at the default size (two scenarios of 200,000 texts) on 2 cores.
Run: .venv/bin/python bench/bench_recovery.py [--items 200000] [--scenarios kill postgres]
     [--outage 5] [--retrain-every 20] [--concurrency 2] [--score-chunk N] [--timeout 600]
     [--cluster hitlbench] [--pg-port 5433] [--logs DIR]
(a small trial: --items 20000 --score-chunk 4000, so that a round has several chunks)
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from common import (
    CLASSES,
    LOOP_WORKER,
    add_members,
    celery_process,
    children,
    client,
    create_project,
    drop_postgres,
    flush_redis,
    fresh_postgres,
    import_jsonl,
    label_with_truth,
    make_users,
    pool_jsonl,
    production_workers,
    server,
    server_env,
    table,
)

BROKER = "redis://127.0.0.1:6379/10"
DATABASE = "hitl_bench_recovery"
TARGET_S = 60
FIRST_MODEL_LABELS = 10  # models_service.schedule: the first model waits for this many labels
ATTEMPTS = 3  # rounds to catch mid-scoring before giving up (a small pool's round is quick)
SCENARIOS = {"kill": "worker killed (kill -9)", "postgres": "PostgreSQL restarted"}


# --- the bench's own PostgreSQL cluster ----------------------------------------------------


def clusters() -> dict[str, tuple[str, int, str]]:
    """{name: (version, port, status)} of the machine's clusters (Debian's pg_lsclusters)."""
    out = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True
    ).stdout
    found = {}
    for line in out.splitlines():
        version, name, port, status, *_ = line.split()
        found[name] = (version, int(port), status)
    return found


def ensure_cluster(name: str, port: int) -> tuple[str, int, bool]:
    """Create the cluster if missing (the newest installed PostgreSQL, trust on localhost),
    start it if down; returns (version, port, whether this started it)."""
    if name == "main":
        raise SystemExit("the bench restarts its cluster: give it one of its own, not main")
    if name not in clusters():
        version = max(os.listdir("/usr/lib/postgresql"), key=int)
        subprocess.run(
            ["pg_createcluster", version, name, "--port", str(port), "--", "--auth=trust"],
            check=True,
            capture_output=True,
        )
    version, port, status = clusters()[name]
    started = status != "online"
    if started:
        pg_ctl(version, name, "start")
    return version, port, started


def pg_ctl(version: str, name: str, action: str) -> None:
    subprocess.run(["pg_ctlcluster", version, name, action], check=True, capture_output=True)


def answers(port: int) -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode == 0


class Versions:
    """The bench's reads of a project's model versions, on a connection of its own that is
    made again after PostgreSQL restarted."""

    def __init__(self, database_url: str, project: int):
        self.url, self.project, self.connection = database_url, project, None

    def all(self) -> list[tuple]:
        """(number, status, chunks_done, chunks_total, trained_on, created_at, finished_at,
        error) of every version, oldest first."""
        query = (
            "SELECT number, status, chunks_done, chunks_total, trained_on, created_at, "
            "finished_at, error FROM models_service_modelversion WHERE project_id = %s "
            "ORDER BY number"
        )
        try:
            if self.connection is None:
                self.connection = psycopg.connect(self.url, autocommit=True)
            return self.connection.execute(query, (self.project,)).fetchall()
        except psycopg.OperationalError:
            self.connection = None  # the database restarted: connect again next time
            raise

    def wait(self, until, timeout: float, what: str):
        """Poll until `until(versions)` gives something; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := until(self.all())) is not None:
                return found
            time.sleep(0.02)
        raise RuntimeError(f"no {what} after {timeout:.0f} s: {self.all()}")


def serving(versions: list[tuple]) -> tuple | None:
    ready = [v for v in versions if v[1] == "ready"]
    return ready[-1] if ready else None


def mid_round(after: int):
    """Of versions newer than `after`: the newest if it is scoring with a chunk done (or
    scoring at all, when the pool is one chunk), False if the round ended, None meanwhile."""

    def check(versions):
        newer = [v for v in versions if v[0] > after]
        if not newer:
            return None
        number, status, done, total, *_ = newer[-1]
        if status == "scoring" and (done >= 1 or total == 1):
            return newer[-1]
        return False if status in ("ready", "failed") else None

    return check


# --- one scenario -------------------------------------------------------------------------


def crash_mid_round(args, kind: str, admin_url: str, cluster: tuple, var: Path, logs: Path):
    """Build the project, cut its second round short as `kind` says, and measure; returns
    the table's row."""
    database_url = fresh_postgres(DATABASE, admin_url)
    flush_redis(BROKER)
    env = server_env(
        database_url,
        var,
        HITL_MODEL_DIR=str(var / "models"),
        CELERY_BROKER_URL=BROKER,
        **({"HITL_SCORE_CHUNK": str(args.score_chunk)} if args.score_chunk else {}),
    )
    try:
        with (
            server(env) as (base, _web),
            production_workers(env, concurrency=args.concurrency, logs=logs) as processes,
        ):
            tokens = make_users(env, ["admin", "ann"])
            admin = client(base, tokens["admin"])
            project = create_project(
                admin,
                f"recovery-{kind}",
                labels=CLASSES,
                eval_share=0.0,
                retrain_every=args.retrain_every,
            )
            add_members(admin, project, ["ann"])
            import_jsonl(admin, project, pool_jsonl(args.items))
            versions = Versions(database_url, project)
            # as many labels as schedule.cadence asks for a first model, then for each round
            first_labels = max(args.retrain_every, FIRST_MODEL_LABELS)
            label_with_truth(base, tokens["ann"], project, first_labels)
            first = versions.wait(serving, args.timeout, "first model")
            cut = None
            for _attempt in range(ATTEMPTS):
                current = serving(versions.all())
                due = max(args.retrain_every, current[4] // 20)
                label_with_truth(base, tokens["ann"], project, due)
                cut = versions.wait(mid_round(current[0]), args.timeout, "round scoring")
                if cut:
                    break
            if not cut:
                raise RuntimeError(f"no round caught scoring in {ATTEMPTS} tries: a larger pool")
            survivors, crashed_at = [], time.time()
            if kind == "kill":
                since, survivors = kill_worker(env, processes, args.concurrency, logs)
            else:
                since = restart_postgres(cluster, args.outage)
            started, ready = wait_recovery(versions, cut[0], first[0], since, args.timeout)
            what = outcome(versions.all(), cut[0], crashed_at)
            if survivors:
                what += f"; {len(survivors)} pool process(es) outlived the kill"
    finally:
        flush_redis(BROKER)  # what the killed worker left unacknowledged
        drop_postgres(DATABASE, admin_url)
    name = SCENARIOS[kind] + (f", {args.outage:g} s down" if kind == "postgres" else "")
    return [
        name,
        f"{args.items:,}",
        f"v{cut[0]}, {cut[2]}/{cut[3]} chunks",
        after(started, since, args.timeout),
        after(ready, since, args.timeout),
        what,
        f"new round <= {TARGET_S} s",
    ]


def kill_worker(env: dict, processes: dict, concurrency: int, logs: Path):
    """kill -9 of the loop worker's process group, then a new worker at once; returns the
    moment of the kill and the pool processes still alive a second later."""
    worker = processes["worker"]
    pool = children(worker.pid)
    killed_at = time.time()
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    processes["worker"] = celery_process(
        env, *LOOP_WORKER, f"--concurrency={concurrency}", log=logs / "worker-restarted.log"
    )
    time.sleep(1)
    return killed_at, [pid for pid in pool if alive(pid)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie is dead, only not yet reaped


def restart_postgres(cluster: tuple, outage: float) -> float:
    """Stop the cluster (fast: its connections are cut), wait `outage` seconds, start it;
    returns the moment it answers again."""
    version, name, port = cluster
    pg_ctl(version, name, "stop")
    time.sleep(outage)
    pg_ctl(version, name, "start")
    while not answers(port):
        time.sleep(0.05)
    return time.time()


def wait_recovery(versions: Versions, cut: int, first: int, since: float, timeout: float):
    """When a new round started (a version newer than `cut` was made, or `cut` completed)
    and when a version newer than `first` became ready, as the rows say (None: not within
    `timeout` seconds of `since`)."""
    started = ready = None
    while time.time() < since + timeout:
        try:
            rows = versions.all()
        except psycopg.OperationalError:
            time.sleep(0.2)
            continue
        newer = [v for v in rows if v[0] > cut]
        completed = [v for v in rows if v[0] == cut and v[1] == "ready"]
        if started is None and (newer or completed):
            started = newer[0][5] if newer else completed[0][6]
        served = [v for v in rows if v[0] > first and v[1] == "ready"]
        if served:
            return started or served[0][6], served[0][6]
        time.sleep(0.2)
    return started, ready


def after(moment, since: float, timeout: float) -> str:
    return f"> {timeout:.0f}" if moment is None else f"{moment.timestamp() - since:.1f}"


def outcome(rows: list[tuple], cut: int, crashed_at: float) -> str:
    """What became of the round cut short and of those after it, e.g. 'v2 failed (abandoned:
    its worker stopped); v3 ready'."""
    parts = []
    for number, status, _done, _total, _on, _created, finished, error in rows:
        if number == cut:
            parts.append(f"v{number} {status}" + (f" ({error[:60]})" if error else ""))
            if finished and finished.timestamp() < crashed_at:
                parts[-1] += " before the crash: nothing was cut short"
        elif number > cut:
            parts.append(f"v{number} {status}")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000, help="texts in the pool")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument(
        "--outage", type=float, default=5, help="seconds PostgreSQL stays down (postgres)"
    )
    parser.add_argument(
        "--retrain-every", type=int, default=20, help="the project's setting: labels per round"
    )
    parser.add_argument(
        "--concurrency", type=int, default=2, help="the loop worker's pool processes"
    )
    parser.add_argument(
        "--score-chunk",
        type=int,
        help="HITL_SCORE_CHUNK for a small pool (default: the platform's, 20,000)",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for each step")
    parser.add_argument("--cluster", default="hitlbench", help="the bench's PostgreSQL cluster")
    parser.add_argument("--pg-port", type=int, default=5433, help="its port, when created")
    parser.add_argument("--logs", type=Path, help="keep the Celery logs here")
    args = parser.parse_args()
    version, port, started = ensure_cluster(args.cluster, args.pg_port)
    admin_url = f"postgres://postgres@127.0.0.1:{port}/postgres"
    rows = []
    try:
        for kind in args.scenarios:
            with tempfile.TemporaryDirectory() as tmp:
                logs = args.logs / kind if args.logs else Path(tmp)
                logs.mkdir(parents=True, exist_ok=True)
                cluster = (version, args.cluster, port)
                rows.append(crash_mid_round(args, kind, admin_url, cluster, Path(tmp), logs))
    finally:
        if started:
            pg_ctl(version, args.cluster, "stop")
    table(
        f"Recovery from a round cut short (PostgreSQL {version}, cluster {args.cluster}; "
        f"the loop worker with {args.concurrency} pool processes; heartbeat, stale claim and "
        "sweep at the platform's defaults)",
        [
            "scenario",
            "pool size",
            "round cut short",
            "s to a new round",
            "s to a ready version",
            "what happened",
            "target",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
