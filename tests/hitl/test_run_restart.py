"""`scripts/run` stopped with Ctrl-C and started again at once, a few times in a row, on the
backend this suite runs on: PostgreSQL and Redis when DATABASE_URL and CELERY_BROKER_URL name
them (a database and a redis-server of the test's own, so that its workers take none of the
suite's tasks), else the embedded default. bench/bench_run_restart.py does ten of each."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.hitl.running import free_port, newcomer_env, port_free
from tests.services import redis_url, unavailable
from tests.worker import PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
CYCLES = 2


@pytest.fixture
def backend(tmp_path):
    """The environment of a newcomer's shell, pointed at the suite's kind of backend."""
    env = newcomer_env() | {"HITL_VAR_DIR": str(tmp_path / "var")}
    if connection.vendor != "postgresql" or redis_url() is None:
        yield env
        return
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        unavailable("needs redis-server (Debian's redis-server) for a broker of the test's own")
    admin_url = os.environ["DATABASE_URL"]
    name = f"hitl_restart_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    broker = PrivateRedis(redis_server)
    broker.start()
    try:
        yield env | {
            "DATABASE_URL": admin_url.rsplit("/", 1)[0] + "/" + name,
            "CELERY_BROKER_URL": broker.url,
        }
    finally:
        broker.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(env: dict, port: int, log: Path) -> subprocess.Popen:
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run"), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's foreground job
        )
    deadline = time.monotonic() + 90
    while "hitl is running at" not in log.read_text():
        assert process.poll() is None, "scripts/run exited:\n" + log.read_text()
        assert time.monotonic() < deadline, "no address within 90 s:\n" + log.read_text()
        time.sleep(0.1)
    return process


def test_the_port_is_free_within_5_s_of_each_ctrl_c_and_the_next_start_takes_it(backend, tmp_path):
    port = free_port()
    runs: list[subprocess.Popen] = []
    try:
        for cycle in range(CYCLES):
            # started at once, while the run before may still be stopping its workers
            runs.append(_start(backend, port, tmp_path / f"run-{cycle}.log"))
            stopped = time.monotonic()
            os.killpg(runs[-1].pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
            while not port_free(port):
                assert time.monotonic() - stopped < 5, f"cycle {cycle}: port taken 5 s on"
                time.sleep(0.05)
        assert [run.wait(timeout=30) for run in runs] == [0] * CYCLES  # each stopped cleanly
    finally:
        for run in runs:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
