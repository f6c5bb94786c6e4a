"""Large imports run as jobs in a real Celery worker process and report their progress."""

import json
import time

import pytest

from annotation.models import ImportChunk, ImportJob, Item
from tests.factories import queued_job

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for_job(client, url: str, timeout: float = 120) -> tuple[dict, list[tuple]]:
    """Poll the job until it ends; return its last state and every (status, processed) seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json()
        seen.append((job["status"], job["processed_rows"]))
        if job["status"] in ("succeeded", "failed"):
            return job, seen
        time.sleep(0.02)
    raise AssertionError(f"the import job did not finish in {timeout}s; last states {seen[-5:]}")


def test_a_large_import_runs_in_the_worker_and_reports_progress(
    celery_worker,
    api_client,
    project,
    admin,
    settings,
):
    settings.HITL_IMPORT_SYNC_MAX_BYTES = 1_000_000
    rows = 100_000
    body = "\n".join(
        json.dumps({"external_id": f"r{n}", "text": f"row number {n}"}) for n in range(rows)
    ).encode()
    assert len(body) > settings.HITL_IMPORT_SYNC_MAX_BYTES
    api_client.force_authenticate(admin)
    response = api_client.post(
        f"/api/v1/projects/{project.id}/items/import/",
        data=body,
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"

    job, seen = _wait_for_job(api_client, response.json()["url"])

    assert job["status"] == "succeeded", job
    assert (job["created_count"], job["total_rows"], job["processed_rows"]) == (rows, rows, rows)
    assert Item.objects.filter(project=project).count() == rows
    progress = [processed for status, processed in seen if status == "validating"]
    assert progress == sorted(progress)  # progress only moves forward
    assert any(0 < processed < rows for processed in progress), seen[:20]
    assert not ImportChunk.objects.filter(job_id=job["id"]).exists()  # the upload is not kept


def test_a_job_with_a_bad_row_fails_with_its_line_and_inserts_nothing(
    celery_worker,
    api_client,
    project,
    admin,
):
    lines = [json.dumps({"text": f"row {n}"}) for n in range(1_000)]
    lines[700] = json.dumps({"text": ["not", "a", "string"]})
    api_client.force_authenticate(admin)
    response = api_client.post(
        f"/api/v1/projects/{project.id}/items/import/?async=true",
        data="\n".join(lines).encode(),
        content_type="application/x-ndjson",
    )
    assert response.status_code == 202

    job, _ = _wait_for_job(api_client, response.json()["url"])

    assert job["status"] == "failed"
    assert job["errors"] == [
        {"line": 701, "field": "text", "message": "must be a string, not a list"}
    ]
    assert not Item.objects.exists()


def test_running_a_finished_job_again_changes_nothing(project, admin):
    from annotation.imports import run_import_job

    job = queued_job(project, admin, b'{"text": "once"}')  # not sent: this test runs it
    run_import_job(job_id=job.id)
    run_import_job(job_id=job.id)  # a redelivered message
    assert Item.objects.count() == 1
    assert ImportJob.objects.get(id=job.id).status == "succeeded"
