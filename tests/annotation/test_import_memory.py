"""An import holds a bounded part of its upload in memory, whatever the upload's size: the web
process streams the body to a temporary file (or to the database, for a job), and the parser
reads and writes a batch of rows at a time (bench/bench_upload_memory.py measures the
processes; these tests hold the code to it)."""

import json
import tracemalloc

import pytest
from rest_framework.test import APIRequestFactory, force_authenticate

from annotation import imports
from annotation.api.views import ItemImportApi
from annotation.models import Item

pytestmark = pytest.mark.django_db


def _body(megabytes: int) -> bytes:
    row = {"text": "a text of a few hundred bytes " * 10}
    count = megabytes * 1_000_000 // (len(json.dumps(row)) + 20)
    return "\n".join(json.dumps(row | {"external_id": f"r{n}"}) for n in range(count)).encode()


def _peak(run) -> int:
    """The most memory Python held at once while `run()` ran, in bytes."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_import_in_the_request_holds_a_bounded_part_of_the_upload(project, admin):
    def peak_of(body: bytes) -> int:
        request = APIRequestFactory().post(
            f"/api/v1/projects/{project.id}/items/import/",
            data=body,
            content_type="application/x-ndjson",
        )  # the body exists before the measure starts, as the client's bytes do
        force_authenticate(request, admin)
        response = []
        peak = _peak(lambda: response.append(ItemImportApi.as_view()(request, project.id)))
        assert response[0].status_code == 201, response[0].data
        return peak

    small, large = _body(3), _body(12).replace(b'"r', b'"big-r')
    small_peak, large_peak = peak_of(small), peak_of(large)
    assert Item.objects.count() == (small + b"\n" + large).count(b"\n") + 1
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)
    assert large_peak < len(large) / 2, (large_peak, len(large))


def test_an_import_job_holds_a_bounded_part_of_the_upload(project, admin):
    def peak_of(body: bytes) -> int:
        job = imports.queue_import(project=project, raw=body, file_format="jsonl", user=admin)
        peak = _peak(lambda: imports.run_import_job(job_id=job.id))
        job.refresh_from_db()
        assert job.status == "succeeded", job.errors
        return peak

    small, large = _body(6), _body(24).replace(b'"r', b'"big-r')  # both of several chunks
    small_peak, large_peak = peak_of(small), peak_of(large)
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)
    assert large_peak < len(large) / 2, (large_peak, len(large))
