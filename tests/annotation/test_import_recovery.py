"""Every import job ends, succeeded or failed with its error, and its upload goes: whatever it
raises, with the broker down when it was queued, with its worker killed midway.

The tests that cross processes run a real worker (with its beat, so the sweep runs every
second) on a redis-server of their own, which they stop and start.
"""

import json
import os
import shutil
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import imports
from annotation.models import AuditEvent, ImportChunk, ImportJob, Item
from tests.factories import queued_job
from tests.services import unavailable, worker_environment
from tests.worker import PrivateRedis, publishing_to, start_worker, wait_until_ready

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(count: int) -> bytes:
    return "\n".join(
        json.dumps({"external_id": f"r{n}", "text": f"row number {n}"}) for n in range(count)
    ).encode()


def _wait_for(predicate, what: str, timeout: float = 90, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


class Importer:
    """A private broker and a worker with its beat, which a test stops, starts and kills."""

    def __init__(self, tmp_path, broker: PrivateRedis):
        self.tmp, self.broker, self.worker, self.starts = tmp_path, broker, None, 0

    def start_worker(self) -> None:
        self.starts += 1
        self.log = self.tmp / f"worker-{self.starts}.log"
        env = worker_environment() | {
            "CELERY_BROKER_URL": self.broker.url,
            "HITL_SWEEP_SECONDS": "1",
            "HITL_HEARTBEAT_SECONDS": "1",
            "HITL_IMPORT_STALE_SECONDS": "4",
            "HITL_KICK_ROUNDS": "false",
        }
        beat = ["--beat", "--schedule", str(self.tmp / f"beat-{self.starts}")]
        self.worker = start_worker(env, self.log, *beat)
        wait_until_ready(self.worker, self.log)

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)  # the worker and its beat, no clean-up
        self.worker.wait(timeout=10)

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGTERM)
            self.worker.wait(timeout=30)
        self.broker.stop()


@pytest.fixture
def importer(tmp_path, settings):
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        unavailable("needs redis-server (apt-get install redis-server) to stop and start Redis")
    broker = PrivateRedis(redis_server)
    broker.start()
    handle = Importer(tmp_path, broker)
    with publishing_to(broker.url):
        try:
            handle.start_worker()
            yield handle
        finally:
            handle.stop()


def _job(job_id: int) -> ImportJob:
    return ImportJob.objects.get(id=job_id)


def test_with_the_broker_down_an_async_import_answers_202_and_runs_once_it_is_back(
    importer, api_client, project, admin
):
    importer.broker.stop()
    api_client.force_authenticate(admin)
    started = time.monotonic()
    response = api_client.post(
        f"/api/v1/projects/{project.id}/items/import/?async=true",
        data=_rows(100),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202, response.content
    assert time.monotonic() - started < 3  # the request does not wait on the broker
    job_id = response.json()["id"]
    _wait_for(lambda: _job(job_id).heartbeat_at is None, "the job marked unsent")
    assert _job(job_id).status == "queued"

    importer.broker.start()
    _wait_for(lambda: _job(job_id).status == "succeeded", "the job", log=importer.log)
    assert Item.objects.filter(project=project).count() == 100
    assert not ImportChunk.objects.filter(job_id=job_id).exists()


@pytest.mark.parametrize("phase", ["validating", "inserting"])
def test_a_job_whose_worker_is_killed_midway_is_run_again_and_succeeds(
    importer, api_client, project, admin, phase
):
    rows = 300_000
    api_client.force_authenticate(admin)
    response = api_client.post(
        f"/api/v1/projects/{project.id}/items/import/?async=true",
        data=_rows(rows),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    _wait_for(
        lambda: (
            _job(job_id).status == phase and _job(job_id).processed_rows > 0
            if phase == "validating"
            else _job(job_id).status == phase
        ),
        f"the job to be {phase}",
        log=importer.log,
    )
    time.sleep(0.5)  # well into the phase: inserting, part of the rows are written
    importer.kill_worker()
    killed = _job(job_id)
    assert killed.status == phase and killed.attempts == 1
    assert not Item.objects.filter(project=project).exists()  # nothing committed

    importer.start_worker()
    _wait_for(lambda: _job(job_id).status in ("succeeded", "failed"), "the job", log=importer.log)
    job = _job(job_id)
    assert (job.status, job.attempts, job.created_count) == ("succeeded", 2, rows), job.errors
    assert Item.objects.filter(project=project).count() == rows
    assert not ImportChunk.objects.filter(job_id=job_id).exists()


def test_the_sweep_runs_a_dead_workers_job_again_in_a_real_worker(celery_worker, project, admin):
    job = queued_job(project, admin, _rows(50), status="validating", attempts=1)
    ImportJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert imports.sweep_jobs() == {"sent": [job.id], "failed": []}

    _wait_for(lambda: _job(job.id).status == "succeeded", "the job run again")
    assert _job(job.id).attempts == 2
    assert Item.objects.filter(project=project).count() == 50


def test_a_job_whose_worker_died_twice_fails_with_that_error_and_drops_its_upload(project, admin):
    job = queued_job(project, admin, _rows(5), status="inserting", attempts=2)
    ImportJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    assert imports.sweep_jobs() == {"sent": [], "failed": [job.id]}

    ended = _job(job.id)
    assert ended.status == "failed" and ended.finished_at is not None
    assert "stopped, 2 times" in ended.errors[0]["message"]
    assert not ImportChunk.objects.filter(job_id=job.id).exists()
    assert AuditEvent.objects.filter(action="import.finished").get().details["status"] == "failed"


def test_the_sweep_leaves_a_job_with_a_live_heartbeat_alone(project, admin):
    job = queued_job(project, admin, _rows(5), status="inserting", attempts=1)
    ImportJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now())
    sent = queued_job(project, admin, _rows(5), heartbeat_at=timezone.now())  # just sent

    assert imports.sweep_jobs() == {"sent": [], "failed": []}

    assert _job(job.id).status == "inserting" and _job(sent.id).status == "queued"


def test_a_job_that_raises_an_unexpected_error_fails_with_it_and_drops_its_upload(
    project, admin, monkeypatch
):
    def fail(*_args, **_kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(imports._ItemWriter, "add", fail)
    job = queued_job(project, admin, _rows(5))

    imports.run_import_job(job_id=job.id)

    ended = _job(job.id)
    assert ended.status == "failed" and ended.finished_at is not None
    assert [error["message"] for error in ended.errors] == [
        "the import stopped on an error (RuntimeError: the disk is full); nothing was imported"
    ]
    assert not ImportChunk.objects.filter(job_id=job.id).exists()
    assert not Item.objects.exists()


def test_a_redelivered_message_for_a_running_job_changes_nothing(project, admin):
    job = queued_job(project, admin, _rows(5), status="validating", attempts=1)

    imports.run_import_job(job_id=job.id)

    assert (_job(job.id).status, _job(job.id).attempts) == ("validating", 1)
    assert not Item.objects.exists()
