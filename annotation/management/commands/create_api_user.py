"""Create (or find) a user and print a new API token for them, for scripts and REST clients."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from annotation import tokens


class Command(BaseCommand):
    help = (
        "Create a user if missing and print a new API token for it (tokens are stored as "
        "digests, so each run issues a new one and the previous one stops working)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="set this password (default: a random one)")
        parser.add_argument("--superuser", action="store_true", help="may use the Django admin")

    def handle(self, *args, username: str, password: str | None, superuser: bool, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created or password:
            user.set_password(password or secrets.token_urlsafe(16))
        if superuser:
            user.is_staff = user.is_superuser = True
        user.save()
        key, _ = tokens.issue(user=user)
        self.stdout.write(key)
