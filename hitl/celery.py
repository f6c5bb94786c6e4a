"""The Celery app: configured from Django settings (CELERY_* names)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import import_modules, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl.settings")

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


@worker_process_init.connect
def _lower_priority(**_kwargs) -> None:
    """Pool processes yield the CPU to web requests (HITL_WORKER_NICE; 0 leaves it alone)."""
    from django.conf import settings

    if settings.HITL_WORKER_NICE and hasattr(os, "nice"):
        os.nice(settings.HITL_WORKER_NICE)
