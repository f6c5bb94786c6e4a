"""The project's settings, as a test run needs them: a throwaway secret, a SQLite *file*.

The test database on SQLite is a file, not Django's default in-memory database, so that
concurrent requests in the tests lock it the way they do in production (WAL, IMMEDIATE).
"""

import os

os.environ.setdefault("HITL_SECRET_KEY", "test-only-secret-key")
# A broker folder of this run's own, inherited by the worker processes the tests start.
os.environ.setdefault("HITL_BROKER_DIR", f"var/test-broker-{os.getpid()}")
# Model files of this run's own, away from a developer's real projects.
os.environ.setdefault("HITL_MODEL_DIR", f"var/test-models-{os.getpid()}")
# Annotations do not kick rounds here: a worker shared by the suite would otherwise train the
# projects of unrelated tests. The tests of the loop turn kicks on (tests/models_service).
os.environ.setdefault("HITL_KICK_ROUNDS", "false")

from hitl.settings import *  # noqa: E402,F403
from hitl.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# Fresh figures at every call: test databases reuse project ids, which a cache would confuse.
HITL_DASHBOARD_CACHE_SECONDS = 0

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

(VAR_DIR / "staticfiles").mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
