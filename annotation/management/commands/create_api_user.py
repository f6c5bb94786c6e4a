"""Create (or find) a user and print their API token, for scripts and REST clients."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create a user if missing and print an API token for it."

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
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
