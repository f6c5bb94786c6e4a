from django.apps import AppConfig


class ModelsServiceConfig(AppConfig):
    """Model configurations, training and scoring: the active-learning engine's home."""

    name = "models_service"
    default_auto_field = "django.db.models.BigAutoField"
