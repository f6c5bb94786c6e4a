"""Request types for views that only signed-in users reach, for the type checker.

Django and DRF type `request.user` as a user or AnonymousUser. Behind `login_required`, or
DRF's IsAuthenticated (the API's default permission), it is always a user: a view annotated
with these says so, as django-stubs advises. Annotations only: at run time the request is
Django's or DRF's own.
"""

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.request import Request


class SignedInHttpRequest(HttpRequest):
    user: User


class SignedInRequest(Request):
    user: User
