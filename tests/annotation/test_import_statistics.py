"""A large import leaves PostgreSQL's planner statistics of the item table up to date."""

import json

import pytest
from django.db import connection

from annotation import imports
from annotation.models import Item
from tests.services import require_postgres


def _planner_row_estimate() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Item._meta.db_table])
        return cursor.fetchone()[0]


def _import(project, count: int) -> None:
    raw = "\n".join(json.dumps({"text": f"item {n}"}) for n in range(count)).encode()
    imports.import_items(project=project, raw=raw, file_format="jsonl")


def test_a_large_import_refreshes_the_planners_statistics_once_committed(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    require_postgres()
    monkeypatch.setattr(imports, "ANALYZE_AFTER_ROWS", 300)
    # The test's own transaction holds the rows uncommitted: autovacuum cannot count them, so
    # only the import's ANALYZE can bring the estimate to them.
    with django_capture_on_commit_callbacks(execute=True):
        _import(project, 300)
    assert _planner_row_estimate() == pytest.approx(300, abs=1)


def test_a_small_import_leaves_the_statistics_to_autovacuum(
    project, monkeypatch, django_capture_on_commit_callbacks
):
    require_postgres()
    monkeypatch.setattr(imports, "ANALYZE_AFTER_ROWS", 300)
    before = _planner_row_estimate()  # whatever an earlier ANALYZE left (it is not rolled back)
    assert before != pytest.approx(100, abs=1)  # else an ANALYZE would go unseen
    with django_capture_on_commit_callbacks(execute=True):
        _import(project, 100)
    assert _planner_row_estimate() == before
