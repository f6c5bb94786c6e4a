"""The login throttle's two hooks (django-axes calls them, hitl/settings.py names them): who
the client is, and what a locked-out login gets, one answer for the login page, the admin's
login and the token API."""

import ipaddress
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or with HITL_TRUST_X_FORWARDED_FOR the last X-Forwarded-For entry (the
    address our proxy saw); an entry that is no address is ignored."""
    if settings.HITL_TRUST_X_FORWARDED_FOR:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """429 with the wait: JSON under /api/ (the API's error shape), else the lockout page."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = (
        "Too many failed logins for this account or from this address: try again in "
        f"{math.ceil(seconds / 60)} minutes."
    )
    if request.path.startswith("/api/"):
        body = {"detail": message, "errors": [{"field": None, "message": message}]}
        response: HttpResponse = JsonResponse(body, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
