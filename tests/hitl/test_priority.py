"""A worker's PostgreSQL session runs at the worker's priority where that is possible and safe."""

import os

import pytest
from django.db import connections

from hitl import priority
from tests.services import require_postgres

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    """A connection of its own, so that the suite's connection keeps its priority."""
    require_postgres()
    wrapper = connections.create_connection("default")
    yield wrapper
    wrapper.close()


def _backend_pid(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_local_session_is_reniced_by_the_increment_when_this_user_may(session):
    pid = _backend_pid(session)
    before = os.getpriority(os.PRIO_PROCESS, pid)
    done = priority.lower_session_priority(session, 3)
    may = os.geteuid() == 0 or os.stat(f"/proc/{pid}").st_uid == os.geteuid()
    assert done is may
    assert os.getpriority(os.PRIO_PROCESS, pid) == (min(before + 3, 19) if may else before)


def test_only_the_backend_named_after_this_connections_port_is_taken_for_its_own(session):
    other = connections.create_connection("default")
    try:
        pid = _backend_pid(session)  # connects
        marker = priority._client_marker(session.connection)
        assert priority._is_backend_of(pid, marker)
        assert not priority._is_backend_of(_backend_pid(other), marker)
        assert not priority._is_backend_of(os.getpid(), marker)  # not a PostgreSQL process
    finally:
        other.close()


def test_a_session_on_another_machine_is_left_alone(session):
    session.settings_dict = dict(session.settings_dict, HOST="db.internal")
    assert priority.lower_session_priority(session, 3) is False
    assert session.connection is None  # decided without even connecting
