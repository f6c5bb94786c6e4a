"""API tokens: issued, rotated and revoked here, and kept only as a digest.

A key is 256 random bits, shown once. The database keeps its SHA-256: a fast hash is enough
for a random secret that long (no one can guess their way back to it), and it keeps the
look-up one indexed equality in the one-query authentication (annotation.api.authentication).
One token per person: issuing a new one replaces the old. A password change revokes it; with
HITL_TOKEN_MAX_AGE_SECONDS set, a token older than that no longer authenticates.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from annotation.models import ApiToken


def digest(key: str) -> str:
    """The hex SHA-256 of a key: what the database stores and looks up."""
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def issue(*, user: User) -> tuple[str, ApiToken]:
    """Give the user a new token, replacing any old one (which stops working); return its
    key, the only time it is ever seen, and its row."""
    key = secrets.token_urlsafe(32)
    token, _ = ApiToken.objects.update_or_create(
        user=user, defaults={"digest": digest(key), "created_at": timezone.now()}
    )
    return key, token


def revoke(*, user: User) -> bool:
    """Delete the user's token; True if there was one."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted > 0


def current(*, user: User) -> ApiToken | None:
    """The user's token row (never its key), or None."""
    return ApiToken.objects.filter(user=user).first()


def expires_at(token: ApiToken) -> datetime | None:
    """When the token stops working under HITL_TOKEN_MAX_AGE_SECONDS; None when tokens do
    not expire (the default). Read at each use, so turning expiry on applies to every token."""
    max_age = settings.HITL_TOKEN_MAX_AGE_SECONDS
    return token.created_at + timedelta(seconds=max_age) if max_age > 0 else None


def is_expired(token: ApiToken, now: datetime | None = None) -> bool:
    ends = expires_at(token)
    return ends is not None and ends <= (now or timezone.now())


def revoke_on_password_change(sender, instance: User, created: bool, **kwargs) -> None:
    """post_save of the user model: a new password revokes the token, whoever set it (a
    form, the admin, `changepassword`). `_password` is what Django itself reads to tell a
    password change (password validators' `password_changed`) from a hash upgrade at login,
    which keeps it unset: an upgrade does not revoke."""
    if not created and getattr(instance, "_password", None) is not None:
        revoke(user=instance)
