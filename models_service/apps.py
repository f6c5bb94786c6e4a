from django.apps import AppConfig


class ModelsServiceConfig(AppConfig):
    """Model configurations, training and scoring: the active-learning engine's home."""

    name = "models_service"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Listen to what annotation announces (answers and imports may make a round due), and
        offer the engine's options to projects' settings."""
        from annotation import engine_options, events
        from models_service import kick, options

        events.answers_recorded.connect(kick.on_answers_recorded, dispatch_uid="kick-answers")
        events.items_imported.connect(kick.on_items_imported, dispatch_uid="kick-imports")
        engine_options.offer(options.engine_options())
