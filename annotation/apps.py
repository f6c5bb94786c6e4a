from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hitl.celery import ensure_broker_folders

        ensure_broker_folders()  # the web process publishes to the embedded broker too
