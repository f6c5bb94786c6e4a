"""The Celery app: configured from Django settings (CELERY_* names)."""

import ctypes
import os
import signal
import sys
from pathlib import Path

from celery import Celery
from celery.signals import celeryd_init, import_modules, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl.settings")

# The worker's main process imports this module before it forks its pool processes.
_MAIN_PROCESS = os.getpid()
# The queues this worker consumes (its --queues), known before the pool processes fork.
_queues: set[str] = set()

app = Celery("hitl")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem broker (the embedded default) needs its folders before any message."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)


@import_modules.connect
def _worker_starting(**_kwargs) -> None:
    ensure_broker_folders()


@celeryd_init.connect
def _note_queues(options: dict | None = None, **_kwargs) -> None:
    queues = (options or {}).get("queues") or []
    if isinstance(queues, str):
        queues = queues.split(",")
    _queues.update(name.strip() for name in queues if name.strip())


def worker_nice() -> int:
    """How far this worker's pool processes stand back for others: web requests first, then
    imports someone waits for (HITL_IMPORT_WORKER_NICE, for a worker of the imports queue
    alone), then the loop's rounds (HITL_WORKER_NICE)."""
    from django.conf import settings

    if _queues == {settings.HITL_IMPORTS_QUEUE}:
        return settings.HITL_IMPORT_WORKER_NICE
    return settings.HITL_WORKER_NICE


@worker_process_init.connect
def _lower_priority(**_kwargs) -> None:
    """Pool processes yield the CPU to web requests (worker_nice(); 0 leaves it alone)."""
    nice = worker_nice()
    if nice and hasattr(os, "nice"):
        os.nice(nice)
        if os.getpid() != _MAIN_PROCESS:  # a pool process, not a solo pool's worker itself
            _own_scheduling_group(nice)


AUTOGROUP = Path("/proc/self/autogroup")
PR_SET_PDEATHSIG = 1


def _own_scheduling_group(nice: int) -> None:
    """Put this pool process in a scheduling group of its own, at the worker's nice.

    Why: where Linux groups processes by session (autogroup, on by default on many
    distributions), a nice value ranks a process only within its session's group, and the
    groups share the CPU as equals. A worker started in the web server's session ranked
    below the web inside that group, but the group, worker's load and all, competed at full
    weight with PostgreSQL's, where the web's own queries run: next-item p99 21.1-24.7 ms
    while two pool processes scored a million items, 13.4-18.1 ms with each in a group of
    its own (docs/benchmarks.md, "Worker priority: nice, autogroup and a scheduling group of
    its own").

    A new session is the only way into a new group, and it takes the process out of the
    worker's process group. So the process first asks to be killed with the worker: killing
    the worker's group must still stop a pool process in the middle of a task (an idle one
    quits anyway when its pipe to the worker closes). Only pool processes come here: a solo
    pool's worker would leave its terminal.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return
    if os.getppid() != _MAIN_PROCESS:  # the worker died before the request above: follow it
        os.kill(os.getpid(), signal.SIGKILL)
    if not AUTOGROUP.exists():
        return  # no autogroup: the nice value already ranks the process against the web's
    try:
        os.setsid()
        AUTOGROUP.write_text(str(nice))
    except OSError:
        return  # a group's nice that may not be set: the process keeps its own nice value
