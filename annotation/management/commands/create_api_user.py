"""Create (or find) a user and print a new API token for them, for scripts and REST clients."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from annotation import tokens


class Command(BaseCommand):
    help = (
        "Create a user if missing and print a new API token for it (tokens are stored as "
        "digests, so each run issues a new one and the previous one stops working). "
        "Migrates the database first, as `hitl run` does, so that it works in a fresh clone."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="set this password (default: a random one)")
        parser.add_argument("--superuser", action="store_true", help="may use the Django admin")

    def handle(self, *args, username: str, password: str | None, superuser: bool, **options):
        # a fresh clone has no database before its first `scripts/run`; nothing to do after
        call_command("migrate", interactive=False, verbosity=0)
        user, created = get_user_model().objects.get_or_create(username=username)
        if created or password:
            user.set_password(password or secrets.token_urlsafe(16))
        if superuser:
            user.is_staff = user.is_superuser = True
        user.save()
        key, _ = tokens.issue(user=user)
        self.stdout.write(key)
