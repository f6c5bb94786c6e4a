"""A real Celery worker process for tests whose behaviour crosses a process boundary."""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import current_app

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


class PrivateRedis:
    """A redis-server of a test's own, on a free port, that the test stops and starts (the
    broker going away and coming back); nothing is kept across a restart."""

    def __init__(self, redis_server: str):
        self.redis_server = redis_server
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.redis_server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def point_celery_at(url: str) -> str:
    """Publish from this (test) process to `url`; returns the previous broker URL.

    Publishing reads broker_write_url, which the app resolved from the settings once: setting
    broker_url alone left this process's messages going to the suite's Redis, where the
    session's worker (same test database) picked up work meant for the test's own."""
    previous = current_app.conf.broker_url
    current_app.conf.broker_url = url
    current_app.conf.broker_write_url = url
    current_app.conf.broker_read_url = url
    current_app._pool = None
    current_app.amqp._producer_pool = None
    return previous


@contextmanager
def publishing_to(url: str):
    previous = point_celery_at(url)
    try:
        yield
    finally:
        point_celery_at(previous)
