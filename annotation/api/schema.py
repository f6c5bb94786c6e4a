"""The OpenAPI schema documents the errors the API answers, not only its successes.

Every error body has one shape (annotation.api.errors): `{detail, errors: [{line, field,
message}]}`. The codes every operation can answer follow from what it is, so AutoSchema
derives them instead of each view listing them: 400 when it reads a body or query parameters,
401 and 403 when it needs a signed-in caller, 404 when its path names an object. A view adds
its domain's own refusals (409 conflict, 413 too large, 429 throttled) with `refusals()`.
"""

import uritemplate
from drf_spectacular import openapi
from rest_framework import serializers
from rest_framework.permissions import AllowAny

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorEntry(serializers.Serializer):
    line = serializers.IntegerField(
        allow_null=True, required=False, help_text="the upload's line, for import errors"
    )
    field = serializers.CharField(allow_null=True, help_text='where, e.g. "labels.0.name"')
    message = serializers.CharField()


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField(help_text="what went wrong, in one sentence")
    # a field named like Serializer.errors: DRF's metaclass moves declared fields off the
    # class, so the serializer's own `errors` is untouched (this one only describes bodies)
    errors = ErrorEntry(  # type: ignore[assignment]
        many=True, required=False, help_text="each error, with where it is"
    )


def refusals(*codes: int) -> dict[int, type[ErrorOutput]]:
    """Error responses to merge into an `extend_schema(responses=...)` for the codes that the
    view's domain answers beyond the derived ones, e.g. `**refusals(409)`."""
    return {code: ErrorOutput for code in codes}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: openapi.Direction = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        for code in self._derived_error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    ErrorOutput, str(code), direction=direction
                )
        return responses

    def _derived_error_codes(self) -> list[int]:
        codes = set()
        if self.method in BODY_METHODS or self._reads_query_parameters():
            codes.add(400)
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes |= {401, 403}
        if uritemplate.variables(self.path):
            codes.add(404)
        return sorted(codes)

    def _reads_query_parameters(self) -> bool:
        declared = self._process_override_parameters()
        return any(location == "query" for _, location in declared) or bool(
            self._get_pagination_parameters()
        )
