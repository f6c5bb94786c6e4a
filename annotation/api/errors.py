"""One place that turns errors into the API's answer: `{detail, errors: [{field, message}]}`.

Validation errors keep DRF's field paths, flattened to "labels.0.name"; import errors carry
the line too. Domain errors pick their own status (400, 409, 413).
"""

from django.core.exceptions import RequestDataTooBig
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotation.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "the request body is too large"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ValidationError):
        errors = list(_flatten(exc.detail, ""))
        summary = "; ".join(f"{e['field'] or 'request'}: {e['message']}" for e in errors[:5])
        return Response(
            {"detail": f"invalid request: {summary}", "errors": errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)


def _flatten(detail, path):
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = path if key == "non_field_errors" else f"{path}.{key}" if path else str(key)
            yield from _flatten(value, field)
    elif isinstance(detail, list):
        if all(not isinstance(value, (dict, list)) for value in detail):
            for value in detail:
                yield {"field": path or None, "message": str(value)}
        else:
            for index, value in enumerate(detail):
                if value:
                    yield from _flatten(value, f"{path}.{index}" if path else str(index))
    else:
        yield {"field": path or None, "message": str(detail)}
