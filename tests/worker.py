"""A real Celery worker process for tests whose behaviour crosses a process boundary."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.services import IN_CI, redis_url, worker_environment

ROOT = Path(__file__).resolve().parent.parent


def wait_until_ready(process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited early:\n{log.read_text()}")
        if "ready." in log.read_text():
            return
        time.sleep(0.1)
    raise RuntimeError(f"the worker did not start in {timeout}s:\n{log.read_text()}")


def start_worker(env: dict, log: Path, *extra: str) -> subprocess.Popen:
    """Start `celery worker` (one process, solo pool) on both queues with `env`; its output goes
    to `log`."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "hitl",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--queues=celery,imports",  # the loop's queue and the imports' (hitl.settings)
        *extra,
    ]
    with log.open("a") as output:
        # Its own process group: killing the group also kills an embedded beat (--beat forks
        # it), which would otherwise live on as an orphan.
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """Start `celery worker` against the test database and this run's broker; stop it after.

    The broker is Redis when CELERY_BROKER_URL names one (required under CI=true), otherwise
    the filesystem broker of the embedded default.
    """
    if IN_CI and redis_url() is None:
        pytest.fail("CI must run the worker tests on Redis: set CELERY_BROKER_URL=redis://...")
    with django_db_blocker.unblock():
        env = worker_environment()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(env, log)
    try:
        wait_until_ready(process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
