from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from annotation import tokens
        from hitl.celery import ensure_broker_folders

        ensure_broker_folders()  # the web process publishes to the embedded broker too
        post_save.connect(
            tokens.revoke_on_password_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="annotation.tokens.revoke_on_password_change",
        )
