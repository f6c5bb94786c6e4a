from django.urls import path

from models_service import api

urlpatterns = [
    path("projects/<int:project_id>/models/", api.ModelVersionListApi.as_view(), name="api-models"),
    path("projects/<int:project_id>/train/", api.TrainApi.as_view(), name="api-train"),
    path("projects/<int:project_id>/learning/", api.LearningApi.as_view(), name="api-learning"),
    path(
        "projects/<int:project_id>/predictions/",
        api.PredictionsApi.as_view(),
        name="api-predictions",
    ),
]
