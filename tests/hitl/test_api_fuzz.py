"""Property-based fuzzing of the whole REST API against its own OpenAPI schema (schemathesis).

Every operation of /api/v1/schema/ gets generated requests, valid and invalid, sent in-process
to the WSGI app as a project admin with a token, with the path's ids mostly pointing at real
objects (a project with labelled and open items, a member, an import job, an answer) so that
the bodies and query strings reach the code behind the access checks. Each example runs in a
savepoint rolled back after it, so one example's DELETE does not starve the next.

What must hold for every answer: no 5xx; a status code the schema lists for the operation; the
content type it lists; a body that matches the documented schema. Bounded: HITL_FUZZ_EXAMPLES
examples per operation (default 25), no deadline, derandomized so that a run repeats.
"""

import json
import os
import zlib

import orjson
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings

from annotation import tokens
from annotation.models import Annotation, ImportJob, Membership
from hitl.wsgi import application
from tests.factories import (
    ItemFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    answer,
    queued_job,
)

EXAMPLES = int(os.environ.get("HITL_FUZZ_EXAMPLES", "25"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _json_lines(ctx, rows) -> bytes:
    """JSON Lines bodies of import: the schema's rows, one per line (the standard library's
    encoder: it writes integers of any size, which clients do)."""
    if isinstance(rows, bytes):
        return rows
    if not isinstance(rows, list):
        return json.dumps(rows).encode()
    return "\n".join(json.dumps(row) for row in rows).encode()


def _api_schema() -> schemathesis.BaseSchema:
    """The schema /api/v1/schema/ serves, generated here (no request: it is read at import)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(orjson.loads(orjson.dumps(document)))
    loaded.app = application
    return loaded


schema = _api_schema()


@pytest.fixture
def connection_kept():
    """The requests run in-process inside the test's transaction: the connection must outlive
    each of them, as Django's test client arranges for its own requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, connection_kept):
    """A project as a team leaves it mid-way, and the admin's token."""
    project = ProjectFactory(labels=["pos", "neg", "neutral"])
    admin = MembershipFactory(
        project=project, role=Membership.Role.ADMIN, user=UserFactory(username="fuzz-admin")
    ).user
    annotator = MembershipFactory(
        project=project, role=Membership.Role.ANNOTATOR, user=UserFactory(username="fuzz-ann")
    ).user
    items = [ItemFactory(project=project) for _ in range(5)]
    done: Annotation = answer(items[0], annotator, ["pos"])
    job: ImportJob = queued_job(project, admin, b'{"text": "a queued row"}\n')
    key, _ = tokens.issue(user=admin)
    return {
        "token": key,
        "ids": {
            "project_id": project.id,
            "item_id": items[1].id,
            "user_id": annotator.id,
            "job_id": job.id,
            "annotation_id": done.id,
        },
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_answers_a_server_error_or_off_schema(case, world):
    for name, generated in (case.path_parameters or {}).items():
        # mostly a real object, so that the body reaches the code behind the access checks;
        # now and then the generated id (no such object, or not an id at all)
        if name in world["ids"] and zlib.crc32(repr(generated).encode()) % 4:
            case.path_parameters[name] = world["ids"][name]
    with transaction.atomic():
        response = case.call(headers={"Authorization": f"Token {world['token']}"})
        transaction.set_rollback(True)
    case.validate_response(response, checks=CHECKS)
