from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, register_converter
from django.views.generic import RedirectView

from hitl.converters import DatabaseId
from hitl.views import healthz

register_converter(DatabaseId, "id")  # before the includes below: their paths use <id:...>

# API clients get JSON errors for unknown URLs and crashes, browsers Django's pages
handler404 = "hitl.views.not_found"
handler500 = "hitl.views.server_error"

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    # browsers ask for it on pages that name no icon (the admin's): not a 404 each time
    path("favicon.ico", RedirectView.as_view(url=static("annotation/favicon.svg"))),
    path("admin/", admin.site.urls),
    path("api/v1/", include("annotation.api.urls")),
    path("api/v1/", include("models_service.urls")),
    path("", include("annotation.ui.urls")),
]
