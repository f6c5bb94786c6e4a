"""Celery tasks of the annotation app: thin wrappers that call services by id."""

from celery import shared_task

from annotation import imports


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_import(job_id: int) -> None:
    imports.run_import_job(job_id=job_id)


@shared_task
def sweep_imports() -> dict[str, list[int]]:
    """Send the import jobs no worker has, take over those whose worker died (beat, every
    HITL_SWEEP_SECONDS)."""
    return imports.sweep_jobs()
