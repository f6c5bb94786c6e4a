"""The API token: trade a password for one, and see, rotate or revoke one's own.

Issuing and revoking live in annotation.tokens; failed password attempts count toward the
login throttle (django-axes, hitl/settings.py), whose answer is a 429 (hitl.lockout).
"""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import tokens
from annotation.api.base import ApiView
from annotation.api.schema import refusals
from annotation.errors import DomainError
from hitl.requests import SignedInRequest


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(help_text="the key: shown this once, stored only as a digest")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: never expires")


class TokenStateOutput(serializers.Serializer):
    exists = serializers.BooleanField()
    created_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)


def _issued(user) -> dict:
    key, token = tokens.issue(user=user)
    return TokenOutput({"token": key, **_dates(token)}).data


def _dates(token) -> dict:
    return {"created_at": token.created_at, "expires_at": tokens.expires_at(token)}


class TokenObtainApi(ApiView):
    """Trade a username and password for a new token; the previous one stops working."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # curl -d and scripts alike

    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: TokenOutput, **refusals(429)})
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        # Django's request, not DRF's: the throttle marks a locked-out request on it, and its
        # middleware answers 429 for it.
        user = authenticate(request._request, **payload.validated_data)
        if user is None:
            raise DomainError("unable to log in with this username and password")
        return Response(_issued(user))


class MyTokenApi(ApiView):
    """The caller's own token: whether there is one (GET), a new one in its place (POST),
    none (DELETE)."""

    @extend_schema(responses=TokenStateOutput)
    def get(self, request: SignedInRequest) -> Response:
        token = tokens.current(user=request.user)
        dates = _dates(token) if token else {"created_at": None, "expires_at": None}
        return Response(TokenStateOutput({"exists": token is not None, **dates}).data)

    @extend_schema(request=None, responses={201: TokenOutput})
    def post(self, request: Request) -> Response:
        return Response(_issued(request.user), status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest) -> Response:
        tokens.revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
