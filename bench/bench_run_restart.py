"""`scripts/run` started and stopped again and again: how long until it prints its address, and
how soon after Ctrl-C its port is free for the next start and every process it started is gone.

Each backend gets --cycles runs of `scripts/run --port P` (the demo project loaded, as the README
has it) on one port, each stopped by SIGINT to its process group, as Ctrl-C in a terminal:

  embedded  nothing set: SQLite and the filesystem broker in a fresh var/ directory
  postgres  DATABASE_URL (a fresh database, --database) and CELERY_BROKER_URL (--redis-url)

Measured per cycle: seconds from the start to the address line; from SIGINT until a server may
bind the port (as gunicorn and `hitl run`'s own check bind it, SO_REUSEADDR); from SIGINT until
`scripts/run` exited (its processes stopped, and whatever they forked killed). The first cycle
of each backend also migrates its new database. Target: the port free within 5 s every time.

About two minutes on 2 cores. Needs PostgreSQL at BENCH_PG_ADMIN and Redis for `postgres`.
Run: .venv/bin/python bench/bench_run_restart.py [--cycles 10] [--backends embedded postgres]
     [--database hitl_bench_restart] [--redis-url redis://127.0.0.1:6379/11]
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, drop_postgres, flush_redis, free_port, fresh_postgres, table

from hitl.cli import _port_taken  # the check hitl run makes before it starts

ADDRESS = "hitl is running at"


def cycle(env: dict, port: int, log: Path) -> tuple[float, float, float]:
    """One start and Ctrl-C; (start to address, SIGINT to port free, SIGINT to exit) in s."""
    started = time.monotonic()
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run"), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while ADDRESS not in log.read_text():
            if process.poll() is not None or time.monotonic() - started > 120:
                raise RuntimeError(f"scripts/run printed no address:\n{log.read_text()}")
            time.sleep(0.05)
        address = time.monotonic() - started
        stopped = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)
        while _port_taken("127.0.0.1", port) is not None:
            if time.monotonic() - stopped > 60:
                raise RuntimeError("the port was still taken 60 s after SIGINT")
            time.sleep(0.02)
        freed = time.monotonic() - stopped
        code = process.wait(timeout=60)
        exited = time.monotonic() - stopped
        if code != 0:
            raise RuntimeError(f"scripts/run exited with {code}:\n{log.read_text()}")
        return address, freed, exited
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def backend_env(backend: str, var_dir: Path, args: argparse.Namespace) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
    env["HITL_VAR_DIR"] = str(var_dir)
    if backend == "postgres":
        env["DATABASE_URL"] = fresh_postgres(args.database)
        env["CELERY_BROKER_URL"] = args.redis_url
        flush_redis(args.redis_url)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--backends", nargs="+", default=["embedded", "postgres"])
    parser.add_argument("--database", default="hitl_bench_restart")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args()
    port = free_port()
    for backend in args.backends:
        with tempfile.TemporaryDirectory(prefix=f"restart-{backend}-") as var:
            env = backend_env(backend, Path(var), args)
            rows = []
            try:
                for number in range(1, args.cycles + 1):
                    log = Path(var) / f"run-{number}.log"
                    rows.append([number, *(f"{s:.2f}" for s in cycle(env, port, log))])
            finally:
                if backend == "postgres":
                    drop_postgres(args.database)
            worst = [max(float(row[k]) for row in rows) for k in (1, 2, 3)]
            rows.append(["max", *(f"{s:.2f}" for s in worst)])
            table(
                f"scripts/run, {backend}: {args.cycles} starts and Ctrl-C on port {port}",
                ["cycle", "start → address (s)", "Ctrl-C → port free (s)", "Ctrl-C → exited (s)"],
                rows,
            )


if __name__ == "__main__":
    main()
