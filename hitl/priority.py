"""A worker's database sessions at the worker's CPU priority, where PostgreSQL shares its cores.

Worker processes run niced (HITL_WORKER_NICE), but half of a scoring round's CPU is spent by
PostgreSQL on the worker's behalf (reading the texts out of their JSON, taking in the COPY of
the rankings), at normal priority. With two scoring processes on a two-core machine, those
sessions took the cores from the annotator's next-item query. Where PostgreSQL runs on this
machine and this process may change its processes' priority (the same user, or root), the
worker lowers its own session's priority as well; anywhere else it leaves it alone.
"""

import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def lower_session_priority(connection, increment: int) -> bool:
    """Renice the PostgreSQL process serving `connection` by `increment`; True if done.

    Only a process proven to be this session's: PostgreSQL names each backend after its
    client's address and port ("postgres: user db 127.0.0.1(51234) idle"), and that port must
    be this connection's own. A backend pid seen through a container's pid namespace would
    otherwise name some other process of this machine."""
    if connection.vendor != "postgresql" or increment <= 0 or not hasattr(os, "setpriority"):
        return False
    if (connection.settings_dict.get("HOST") or "") not in LOCAL_HOSTS and not str(
        connection.settings_dict.get("HOST", "")
    ).startswith("/"):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    if not _is_backend_of(pid, _client_marker(connection.connection)):
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(current + increment, 19))
    except OSError as error:  # another user's process, and we are not root
        log.debug("database session %s keeps its priority: %s", pid, error)
        return False
    return True


def _client_marker(raw_connection) -> str:
    """How PostgreSQL's process title names this client: "[local]" or "address(port)"."""
    # a duplicate of the descriptor, so that closing the probe leaves the connection open
    with socket.socket(fileno=os.dup(raw_connection.fileno())) as probe:
        if probe.family == socket.AF_UNIX:
            return "[local]"
        return f"({probe.getsockname()[1]})"


def _is_backend_of(pid: int, marker: str) -> bool:
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return title.startswith("postgres") and marker in title
