"""Starting the real services some tests need, or saying exactly why a test cannot run.

Without a service (a newcomer's laptop) such a test is skipped with the reason; with CI=true
a missing service fails the test instead, so CI can never pass by skipping.
"""

import os
import shutil

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip the current test for `reason`, or fail it when running in CI."""
    if IN_CI:
        pytest.fail(f"CI must not skip: {reason}")
    pytest.skip(reason)


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        unavailable("needs PostgreSQL: set DATABASE_URL=postgres://user@host:port/db")


def redis_url() -> str | None:
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else None


def require_redis() -> str:
    url = redis_url()
    if url is None:
        unavailable("needs Redis: set CELERY_BROKER_URL=redis://host:port/db")
    return url


def chromium_path() -> str:
    path = os.environ.get("HITL_CHROMIUM") or shutil.which("chromium")
    if path is None:
        unavailable("needs Debian's chromium (apt-get install chromium) for browser tests")
    return path


def worker_environment() -> dict[str, str]:
    """Environment for a worker process that uses this test run's database and broker."""
    settings = connection.settings_dict
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="hitl.settings", HITL_SECRET_KEY="test-worker")
    if connection.vendor == "postgresql":
        auth = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
        host = f"{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}"
        env["DATABASE_URL"] = f"postgres://{auth}@{host}/{settings['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["HITL_SQLITE_PATH"] = str(settings["NAME"])
    return env
