"""The OpenAPI schema documents the errors the API answers, not only its successes.

Every error body has one shape (annotation.api.errors): `{detail, errors: [{line, field,
message}]}`. The codes every operation can answer follow from what it is, so AutoSchema
derives them instead of each view listing them: 400 always (a bad body or query parameter,
or an unknown one: annotation.api.base.ApiView), 401 and 403 when it needs a signed-in
caller, 404 when its path names an object. A view adds its domain's own refusals (409
conflict, 413 too large, 429 throttled) with `refusals()`. The query parameters come from
the view's `query_class`.
"""

import uritemplate
from drf_spectacular import openapi
from rest_framework import serializers
from rest_framework.permissions import AllowAny


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

    def get_override_parameters(self) -> list:
        """The view's declared query parameters (annotation.api.base.ApiView.query_class)."""
        query_class = getattr(self.view, "query_class", None)
        declared = [query_class] if query_class is not None and query_class().fields else []
        return declared + super().get_override_parameters()

    def _derived_error_codes(self) -> list[int]:
        codes = {400}  # a bad body or query parameter, or one the view does not know
        if not any(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes |= {401, 403}
        if uritemplate.variables(self.path):
            codes.add(404)
        return sorted(codes)
