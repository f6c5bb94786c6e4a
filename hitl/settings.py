"""hitl's one settings module: a fresh checkout runs with nothing set (SQLite, a broker that
needs no server); production is the same file with environment variables."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF

from hitl.env import (
    ConfigurationError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    private_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_secret("HITL_VAR_DIR") or BASE_DIR / "var")

DEBUG = env_bool("HITL_DEBUG", False)

SECRET_KEY = env_secret("HITL_SECRET_KEY")
if not SECRET_KEY and not env_secret("DATABASE_URL"):
    # The embedded default lives on one machine, in var/: its key is kept there too, made on
    # first use, so that `manage.py create_api_user` works in a fresh clone. With a database
    # server, several machines may serve it, and each must be given the same key.
    SECRET_KEY = private_secret(VAR_DIR / "secret_key")
if not SECRET_KEY:
    if not DEBUG:
        raise ConfigurationError(
            "HITL_SECRET_KEY is not set: set it (or HITL_SECRET_KEY_FILE), or HITL_DEBUG=true "
            "for local development (`hitl run` makes one in var/secret_key for you)"
        )
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105  (DEBUG only)

ALLOWED_HOSTS = env_list("HITL_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("HITL_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "annotation",
    "models_service",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, as django-axes asks: turns a locked-out login into hitl.lockout's answer
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "hitl.urls"
WSGI_APPLICATION = "hitl.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dj_database_url.DBConfig | dict[str, Any]:
    """DATABASE_URL when given; otherwise a SQLite file tuned for several processes at once.

    SQLite allows one writer: IMMEDIATE transactions take the write lock when an atomic block
    starts, so two requests can never both read "item 7 is free" and both lease it.
    """
    url = env_secret("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=env_int("HITL_DB_CONN_MAX_AGE", 60))
        # A health check is a round trip before every request's first query (a tenth of a
        # next-item call); without it, a connection that died with a database restart fails
        # one request and is then replaced. On where connections are known to drop.
        config["CONN_HEALTH_CHECKS"] = env_bool("HITL_DB_HEALTH_CHECKS", False)
        if config["ENGINE"] == "django.db.backends.postgresql":
            # Parameters bound by the server, so that psycopg prepares a statement run five
            # times on a connection: the next-item query took longer to plan (1.2 ms) than to
            # run. A pooler in front needs prepared-statement support (PgBouncer 1.21+).
            config.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
            config.setdefault("TEST", {})["NAME"] = env_secret("HITL_TEST_DB_NAME") or "test_hitl"
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_secret("HITL_SQLITE_PATH") or VAR_DIR / "hitl.sqlite3",
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # first: refuses a locked-out account or address before any password is checked
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes) for every password check: the login page, the admin's login
# and POST /api/v1/auth/token/. Failures are counted per account (from any address) and per
# address (for any account), each against the limit, over a sliding window of the cool-off:
# once either reaches it, that account or address gets 429 until its failures are older
# than the cool-off. Other accounts from other addresses log in as usual.
AXES_FAILURE_LIMIT = env_int("HITL_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("HITL_LOGIN_COOLOFF_SECONDS", 15 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "hitl.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "hitl.lockout.client_address"
# Behind a proxy that sets X-Forwarded-For, the client's address is its last entry; trusted
# only when asked, since without such a proxy anyone can write that header.
HITL_TRUST_X_FORWARDED_FOR = env_bool("HITL_TRUST_X_FORWARDED_FOR", False)
AXES_DISABLE_ACCESS_LOG = True  # no table of every successful login, address and browser

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = (
    True  # serve straight from the source folders when collectstatic was not run
)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects"
LOGOUT_REDIRECT_URL = "login"

# Request bodies: forms and ordinary API calls stay small; imports have their own, larger bound.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("HITL_MAX_REQUEST_BYTES", 2 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
HITL_IMPORT_MAX_BYTES = env_int("HITL_IMPORT_MAX_BYTES", 256 * 1024 * 1024)
# Imports larger than this run as a Celery job; smaller ones answer with the count at once.
HITL_IMPORT_SYNC_MAX_BYTES = env_int("HITL_IMPORT_SYNC_MAX_BYTES", 16 * 1024 * 1024)
# An import job whose heartbeat (HITL_HEARTBEAT_SECONDS) stopped this long ago belongs to a
# dead worker: the sweep runs it again, or fails it; a queued job whose message went out this
# long ago is sent again.
HITL_IMPORT_STALE_SECONDS = env_int("HITL_IMPORT_STALE_SECONDS", 60)
# Who may create projects: "any" signed-in user (each becomes the admin of what they
# create), or "staff" only (annotation.access.may_create_projects).
HITL_PROJECT_CREATORS = env_choice("HITL_PROJECT_CREATORS", ("any", "staff"), "any")
HITL_LEASE_SECONDS = env_int("HITL_LEASE_SECONDS", 15 * 60)
# An annotator holds at most this many live leases per project: the item on screen, the one the
# page fetched ahead, and one given back by undo. Older leases go when a new one is taken.
HITL_MAX_LEASES_PER_USER = env_int("HITL_MAX_LEASES_PER_USER", 3)

# The active-learning engine. Model files are written here by the platform only.
HITL_MODEL_DIR = Path(env_secret("HITL_MODEL_DIR") or VAR_DIR / "models")
HITL_SCORE_CHUNK = env_int("HITL_SCORE_CHUNK", 20_000)  # items per scoring task
# Model files of a project's newest versions kept on disk (the serving one always); older
# versions keep their rows, metrics and place on the learning curve. 0 keeps every file.
HITL_MODEL_FILES_KEPT = env_int("HITL_MODEL_FILES_KEPT", 5)
# A round's claim is refreshed every HITL_HEARTBEAT_SECONDS while a task of the round runs (an
# import job's heartbeat too); one not refreshed for HITL_TRAINING_STALE_SECONDS belongs to a
# dead worker and is taken over.
HITL_HEARTBEAT_SECONDS = env_int("HITL_HEARTBEAT_SECONDS", 5)
HITL_TRAINING_STALE_SECONDS = env_int("HITL_TRAINING_STALE_SECONDS", 30)
# After a failed round, the next waits this long, doubling with each failure in a row up to
# the cap, so that a project whose data breaks training does not retry every sweep.
HITL_ROUND_RETRY_SECONDS = env_int("HITL_ROUND_RETRY_SECONDS", 30)
HITL_ROUND_RETRY_MAX_SECONDS = env_int("HITL_ROUND_RETRY_MAX_SECONDS", 3600)
# How often the worker's beat looks in PostgreSQL for rounds that are due (the broker may have
# been down when the annotations that made them due were committed).
HITL_SWEEP_SECONDS = env_int("HITL_SWEEP_SECONDS", 15)
# While rounds follow each other without pause, label errors are still searched (beside the
# next round) when none was this long ago; after a quiet round, always.
HITL_LABEL_ISSUES_SECONDS = env_int("HITL_LABEL_ISSUES_SECONDS", 300)
# The dashboard's figures that read every answer (pace, cost, label counts) are computed at
# most this often per web process.
HITL_DASHBOARD_CACHE_SECONDS = env_int("HITL_DASHBOARD_CACHE_SECONDS", 30)
# A worker whose last sweep is older than this is shown as not seen on the dashboard.
HITL_WORKER_STALE_SECONDS = env_int("HITL_WORKER_STALE_SECONDS", max(60, 4 * HITL_SWEEP_SECONDS))
# Ask a worker for a round right after an annotation commits (else only the sweep starts it).
HITL_KICK_ROUNDS = env_bool("HITL_KICK_ROUNDS", True)
# Worker processes run at this lower CPU priority (nice increment) so that, where web and
# worker share cores, a scoring round never makes an annotator wait for the next item.
HITL_WORKER_NICE = env_int("HITL_WORKER_NICE", 10)
# The same for a worker of the imports queue alone: behind the web, ahead of the rounds (an
# import at 10 beside two scoring processes ran at half its speed: docs/benchmarks.md).
HITL_IMPORT_WORKER_NICE = env_int("HITL_IMPORT_WORKER_NICE", 4)

# API tokens (annotation.tokens): stored as digests, one per person, revoked by a password
# change. With a positive value, a token stops working this many seconds after it was issued.
HITL_TOKEN_MAX_AGE_SECONDS = env_int("HITL_TOKEN_MAX_AGE_SECONDS", 0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotation.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, but a body nested too deeply is a 400 there instead of a 500 in a
    # view (annotation.api.parsers)
    "DEFAULT_PARSER_CLASSES": ["annotation.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "hitl.pagination.Pagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "annotation.api.schema.AutoSchema",  # documents the 4xx codes too
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
    "URL_FORMAT_OVERRIDE": None,  # `?format=` names an export or import format, not a renderer
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "hitl API",
    "DESCRIPTION": "Projects, items, imports, next item, annotations and exports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # <id:...> in paths (hitl.converters): an integer that fits the database's 64 bits
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}},
    # the skip API's `reason` and the answers' `skip_reason`: one choice set, one name
    "ENUM_NAME_OVERRIDES": {"SkipReasonEnum": "annotation.models.Annotation.SkipReason"},
}

# Celery: Redis in production; with no broker URL, kombu's filesystem transport, which needs no
# server, so the embedded default still runs a real worker process.
# ("localhost": the transport takes no host, but kombu warns at every connection without one)
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or "filesystem://localhost/"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = Path(env_secret("HITL_BROKER_DIR") or VAR_DIR / "broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than the longest task, so Redis does not hand a running task to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("HITL_VISIBILITY_TIMEOUT", 2 * 3600)
    }
CELERY_RESULT_BACKEND = None  # job state lives in PostgreSQL rows (ImportJob), not the broker
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("HITL_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Imports have a queue of their own, which a worker of their own consumes (`hitl run`,
# docker-compose's importer): a large upload never waits behind the loop's rounds and seeds.
CELERY_TASK_DEFAULT_QUEUE = "celery"
HITL_IMPORTS_QUEUE = "imports"
CELERY_TASK_ROUTES = {"annotation.tasks.*": {"queue": HITL_IMPORTS_QUEUE}}
CELERY_BEAT_SCHEDULE = {
    "sweep-due-rounds": {"task": "models_service.tasks.sweep", "schedule": HITL_SWEEP_SECONDS},
    # queued import jobs the broker never took, and running ones whose worker died
    "sweep-import-jobs": {
        "task": "annotation.tasks.sweep_imports",
        "schedule": HITL_SWEEP_SECONDS,
    },
}

# Content-Security-Policy on every response: scripts, styles, images and requests from this
# origin only. No 'unsafe-inline' anywhere: pages keep their scripts and styles in files (a
# `json_script` block is data, which CSP does not run); data: images are Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy: no page uses these powerful browser features, so none may, not even a
# script that got in.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Security: strict when not debugging. Behind a TLS proxy set HITL_SECURE_PROXY=true.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's script reads it to call the API with the session
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env_bool("HITL_SECURE_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("HITL_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"hitl": {"level": "INFO"}, "annotation": {"level": "INFO"}},
}
