"""Running `scripts/run` as a newcomer would, for the tests that start it whole."""

import os
import socket

from hitl.cli import _port_taken


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    """Free for a new server, by hitl run's own check (the closing connections of a stopped
    run do not count, as they do not for gunicorn)."""
    return _port_taken("127.0.0.1", port) is None


def newcomer_env() -> dict[str, str]:
    """A shell with nothing of hitl's set (this suite's own settings included)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
