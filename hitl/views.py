from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults


def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the process is up and its database answers (for load balancers)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A 404 in the API's own shape for API clients (a script parses JSON, not a page);
    Django's page for everyone else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "not found: no such API endpoint"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 in the API's own shape for API clients; Django's page for everyone else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "server error: the failure is logged"}, status=500)
    return defaults.server_error(request)
