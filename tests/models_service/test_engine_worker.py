"""The loop across processes: the API records labels, a real Celery worker (with its beat)
trains and scores on PostgreSQL through a real Redis that the tests stop, start and survive.

Each test gets its own redis-server and worker, so that it can stop the broker or kill the
worker without disturbing the rest of the suite.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from annotation import selectors
from annotation.models import Item, Membership, RankedItem, Seed
from models_service import kick, schedule
from models_service.models import ModelVersion
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.models_service.helpers import texts
from tests.services import require_postgres, unavailable, worker_environment
from tests.worker import PrivateRedis, point_celery_at, start_worker, wait_until_ready

pytestmark = pytest.mark.django_db(transaction=True)


class Loop:
    """A private redis-server and worker that a test can stop, start and kill."""

    def __init__(self, tmp_path: Path, redis_server: str):
        self.tmp = tmp_path
        self.broker = PrivateRedis(redis_server)
        self.url = self.broker.url
        self.worker = None
        self.starts = 0

    def start_redis(self) -> None:
        self.broker.start()

    def stop_redis(self) -> None:
        self.broker.stop()

    def start_worker(self) -> None:
        self.starts += 1
        log = self.tmp / f"worker-{self.starts}.log"
        env = worker_environment() | {
            "CELERY_BROKER_URL": self.url,
            "HITL_SWEEP_SECONDS": "1",
            "HITL_SCORE_CHUNK": "40",
            "HITL_MODEL_DIR": str(self.tmp / "models"),
            "HITL_KICK_ROUNDS": "true",
        }
        schedule = str(self.tmp / f"beat-{self.starts}")
        self.worker = start_worker(env, log, "--beat", "--schedule", schedule)
        wait_until_ready(self.worker, log)
        self.log = log

    def kill_worker(self) -> None:
        os.killpg(self.worker.pid, signal.SIGKILL)  # the worker and its beat, no clean-up
        self.worker.wait(timeout=10)

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        self.broker.stop()


@pytest.fixture
def loop(tmp_path, settings):
    require_postgres()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        unavailable("needs redis-server (apt-get install redis-server) to stop and start Redis")
    settings.HITL_MODEL_DIR = tmp_path / "models"
    settings.HITL_KICK_ROUNDS = True
    handle = Loop(tmp_path, redis_server)
    handle.start_redis()
    previous = point_celery_at(handle.url)
    kick._last_kick.clear()
    try:
        handle.start_worker()
        yield handle
    finally:
        handle.stop()
        point_celery_at(previous)


def _project(n: int = 300, *, rows: list[dict] | None = None, labels=None, **settings):
    """A project of the first n shipped texts (or of `rows`), imported through the API."""
    rows = texts(n) if rows is None else rows
    labels = labels or sorted({row["label"] for row in rows})
    project = ProjectFactory(labels=labels, eval_share=0.0, **settings)
    admin = UserFactory(username=f"admin-{project.id}")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin)
    body = "\n".join(json.dumps(row) for row in rows)
    response = client.post(
        f"/api/v1/projects/{project.id}/items/import/", body, content_type="application/x-ndjson"
    )
    assert response.status_code == 201, response.content
    return project, client


def _label(client, project, count: int, *, max_seconds: float = 2.0) -> list[dict]:
    """Draw and label `count` items with their true labels; every call must answer quickly."""
    served = []
    for _ in range(count):
        started = time.monotonic()
        response = client.get(f"/api/v1/projects/{project.id}/next/")
        assert response.status_code == 200, response.content
        item = response.json()
        answer = client.post(
            f"/api/v1/items/{item['id']}/annotations/",
            {"labels": [item["data"]["label"]]},
            format="json",
        )
        assert answer.status_code == 201, answer.content
        assert time.monotonic() - started < max_seconds
        served.append(item)
    return served


def _state(project) -> str:
    """What the database says about a project's rounds: for a timed-out wait's message."""
    versions = list(
        ModelVersion.objects.filter(project=project)
        .order_by("number")
        .values_list("number", "status", "trained_on", "eval_size", "chunks_done", "chunks_total")
    )
    return f"labelled {selectors.labelled_count(project.id)}; versions {versions}"


def _wait_for(predicate, timeout: float = 90, what: str = "the condition", loop=None, state=None):
    """Poll until `predicate` gives something; on a timeout, say what the worker logged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    tail = f"\n{state()}" if state is not None else ""
    if loop is not None:
        tail += "\nthe worker's last log lines:\n" + "\n".join(
            loop.log.read_text(errors="replace").splitlines()[-60:]
        )
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{tail}")


def _ready(project, number: int):
    return ModelVersion.objects.filter(
        project=project, number=number, status=ModelVersion.Status.READY
    ).first()


def test_labels_through_the_api_train_a_version_and_next_serves_its_top_item(loop):
    project, client = _project(retrain_every=10)
    # the import asked a worker for the pool's diverse seeds; they are served first
    _wait_for(lambda: Seed.objects.filter(project=project).count() == 10, what="the seeds")
    seeds = list(Seed.objects.filter(project=project).order_by("rank").values_list("item_id"))
    served = _label(client, project, 10)
    assert [(item["id"],) for item in served] == seeds
    version = _wait_for(lambda: _ready(project, 1), what="the first model version")
    assert version.trained_on == 10 and version.items_scored == 300
    top = (
        RankedItem.objects.filter(ranking_id=version.id, item__status=Item.Status.OPEN)
        .order_by("-score")
        .first()
    )
    served = client.get(f"/api/v1/projects/{project.id}/next/").json()
    assert served["id"] == top.item_id
    assert served["prediction"]["labels"] == top.predicted
    models = client.get(f"/api/v1/projects/{project.id}/models/").json()["results"]
    assert [m["number"] for m in models] == [1]


def test_twenty_rapid_annotations_do_not_start_twenty_trainings(loop):
    project, client = _project(retrain_every=10)
    _label(client, project, 10)
    _wait_for(lambda: _ready(project, 1), what="the first model version")
    _label(client, project, 20)  # without pause: as fast as the API answers
    _wait_for(lambda: not schedule.needs_training(project), what="the rounds to catch up")
    _wait_for(
        lambda: (
            not ModelVersion.objects.filter(
                project=project, status__in=["training", "scoring"]
            ).exists()
        ),
        what="the last round to finish",
    )
    # Each round needs 10 new labels: at most two more rounds for 20 labels, never 20.
    assert 2 <= ModelVersion.objects.filter(project=project).count() <= 3


def test_with_redis_stopped_labels_keep_flowing_and_the_round_runs_once_it_is_back(loop):
    project, client = _project(retrain_every=10)
    loop.stop_redis()
    _label(client, project, 12, max_seconds=1.0)  # no request waits on the broker
    assert schedule.needs_training(project)
    assert not ModelVersion.objects.filter(project=project).exists()
    loop.start_redis()
    version = _wait_for(lambda: _ready(project, 1), what="the round after Redis came back")
    assert version.trained_on == 12


def test_a_worker_killed_mid_round_leaves_the_previous_version_serving_and_a_retry_completes(
    loop,
):
    project, client = _project(n=2000, retrain_every=10)
    _label(client, project, 10)
    first = _wait_for(lambda: _ready(project, 1), what="the first model version")
    _label(client, project, 10)
    in_flight = _wait_for(
        lambda: ModelVersion.objects.filter(
            project=project, number=2, status="scoring", chunks_done__gte=1
        ).first(),
        what="the second round to be scoring",
        loop=loop,
        state=lambda: _state(project),
    )
    loop.kill_worker()
    killed_at = time.monotonic()
    in_flight.refresh_from_db()
    assert in_flight.status == "scoring" and in_flight.chunks_done < in_flight.chunks_total
    assert schedule.serving_version(project.id) == first
    served = client.get(f"/api/v1/projects/{project.id}/next/").json()
    assert served["prediction"]["version_id"] == first.id

    # A new worker either finishes the round from the chunk messages still in the broker, or
    # (when a chunk died unacknowledged with the old worker) the claim, whose heartbeat died
    # with the worker, goes stale in 30 s and the sweep retries the round as version 3, within
    # a minute of the kill. Either way the 20 labels end up serving.
    loop.start_worker()
    started = _wait_for(
        lambda: (
            ModelVersion.objects.filter(project=project, number__gte=2)
            .exclude(id=in_flight.id)
            .exists()
            or ModelVersion.objects.filter(
                id=in_flight.id, status=ModelVersion.Status.READY
            ).exists()
        ),
        what="a new round, or the old one finished",
        loop=loop,
        state=lambda: _state(project),
    )
    assert started and time.monotonic() - killed_at < 60
    done = _wait_for(
        lambda: ModelVersion.objects.filter(
            project=project, number__gte=2, status=ModelVersion.Status.READY
        ).first(),
        what="the round finished or retried",
        loop=loop,
        state=lambda: _state(project),
    )
    in_flight.refresh_from_db()
    if done.number == 2:
        assert in_flight.chunks_done == in_flight.chunks_total
    else:
        assert in_flight.status == ModelVersion.Status.FAILED
    assert done.trained_on == 20
    assert schedule.serving_version(project.id) == done


def test_multi_label_labels_through_the_api_train_a_version_that_predicts_label_sets(loop):
    rows = texts(300)
    for row in rows:  # a second, independent label: texts over 200 characters are "long"
        row["tags"] = [row["label"]] + (["long"] if len(row["text"]) > 200 else [])
    names = sorted({row["label"] for row in rows}) + ["long"]
    project, client = _project(rows=rows, labels=names, task_type="multi_label", retrain_every=20)
    for _ in range(20):
        item = client.get(f"/api/v1/projects/{project.id}/next/").json()
        answer = client.post(
            f"/api/v1/items/{item['id']}/annotations/",
            {"labels": item["data"]["tags"]},
            format="json",
        )
        assert answer.status_code == 201, answer.content
    version = _wait_for(lambda: _ready(project, 1), what="the multi-label version")
    assert version.trained_on == 20 and version.items_scored == 300
    served = client.get(f"/api/v1/projects/{project.id}/next/").json()
    assert set(served["prediction"]["labels"]) <= set(names)
    assert 0.5 <= served["prediction"]["confidence"] <= 1.0
