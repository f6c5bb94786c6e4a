from django.urls import path

from models_service import api

urlpatterns = [
    path("projects/<id:project_id>/models/", api.ModelVersionListApi.as_view(), name="api-models"),
    path("projects/<id:project_id>/train/", api.TrainApi.as_view(), name="api-train"),
    path("projects/<id:project_id>/learning/", api.LearningApi.as_view(), name="api-learning"),
    path(
        "projects/<id:project_id>/predictions/",
        api.PredictionsApi.as_view(),
        name="api-predictions",
    ),
]
