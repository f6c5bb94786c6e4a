from django.contrib import admin
from django.urls import include, path

from hitl.views import healthz

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("annotation.api.urls")),
    path("api/v1/", include("models_service.urls")),
    path("", include("annotation.ui.urls")),
]
