"""The suite talks to the real services it was pointed at (in CI: PostgreSQL and Redis).

On a laptop without them these two tests are skipped with the reason; with CI=true they fail,
so CI can never pass on SQLite or without a broker by accident.
"""

import pytest
from django.db import connection
from kombu import Connection

from tests.services import require_postgres, require_redis


@pytest.mark.django_db
def test_the_database_is_a_real_postgresql_server():
    require_postgres()
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")


def test_the_broker_is_a_real_redis_server():
    url = require_redis()
    with Connection(url, connect_timeout=5) as broker:
        broker.ensure_connection(max_retries=1)
        assert broker.transport.driver_type == "redis"
