"""API tokens: stored as digests, looked up in one query, rotated and revoked by their owner
(API and page), revoked by a password change, and expiring when the setting asks."""

import importlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import tokens
from annotation.api.authentication import TokenAuthentication
from annotation.models import ApiToken

pytestmark = pytest.mark.django_db


def _calls_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _works(key: str) -> bool:
    status = _calls_with(key).get("/api/v1/projects/").status_code
    assert status in (200, 401)
    return status == 200


def _obtain(username: str, password: str = "pw-for-tests-1", **extra):
    body = {"username": username, "password": password}
    return APIClient().post("/api/v1/auth/token/", body, format="json", **extra)


def test_the_token_endpoint_issues_a_token_that_works(annotator):
    response = _obtain(annotator.username)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "created_at", "expires_at"}
    assert body["expires_at"] is None  # no expiry unless HITL_TOKEN_MAX_AGE_SECONDS is set
    assert _works(body["token"])


def test_the_token_endpoint_takes_form_data_as_curl_sends_it(annotator):
    body = {"username": annotator.username, "password": "pw-for-tests-1"}
    response = APIClient().post("/api/v1/auth/token/", body)  # multipart, like curl -F / -d
    assert response.status_code == 200
    assert _works(response.json()["token"])


def test_a_wrong_password_gets_a_clear_400_and_no_token(annotator):
    response = _obtain(annotator.username, "wrong")
    assert response.status_code == 400
    assert "username and password" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_a_missing_field_is_named(annotator):
    response = APIClient().post("/api/v1/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


def test_the_database_keeps_a_digest_never_the_key(annotator):
    key = _obtain(annotator.username).json()["token"]
    stored = ApiToken.objects.get(user=annotator)
    assert stored.digest == tokens.digest(key) != key
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        assert not any(key in str(value) for row in cursor.fetchall() for value in row)


def test_token_authentication_is_one_query(annotator, django_assert_num_queries):
    key, _ = tokens.issue(user=annotator)
    with django_assert_num_queries(1):
        user, token = TokenAuthentication().authenticate_credentials(key)
    assert (user.id, token.user_id) == (annotator.id, annotator.id)


def test_a_new_token_replaces_the_old_one(annotator):
    first = _obtain(annotator.username).json()["token"]
    second = _obtain(annotator.username).json()["token"]
    assert not _works(first)
    assert _works(second)
    assert ApiToken.objects.filter(user=annotator).count() == 1


def test_one_rotates_ones_own_token_through_the_api(annotator):
    old, _ = tokens.issue(user=annotator)
    response = _calls_with(old).post("/api/v1/me/token/")
    assert response.status_code == 201
    new = response.json()["token"]
    assert not _works(old)
    assert _works(new)
    state = _calls_with(new).get("/api/v1/me/token/").json()
    assert state["exists"] is True and state["expires_at"] is None


def test_one_revokes_ones_own_token_through_the_api(annotator, reviewer):
    mine, _ = tokens.issue(user=annotator)
    theirs, _ = tokens.issue(user=reviewer)
    assert _calls_with(mine).delete("/api/v1/me/token/").status_code == 204
    assert not _works(mine)
    assert _works(theirs)  # only one's own
    client = APIClient()
    client.force_authenticate(annotator)
    assert client.get("/api/v1/me/token/").json() == {
        "exists": False,
        "created_at": None,
        "expires_at": None,
    }


def test_my_token_needs_a_caller():
    assert APIClient().post("/api/v1/me/token/").status_code == 401


def test_a_session_rotating_its_token_needs_the_csrf_token(annotator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(annotator)
    assert client.post("/api/v1/me/token/").status_code == 403
    assert not ApiToken.objects.exists()


def test_the_token_page_shows_a_new_key_once_and_revokes_it(client, annotator):
    client.force_login(annotator)
    assert "You have no token" in client.get("/account/token/").content.decode()
    issued = client.post("/account/token/", {"action": "issue"})
    assert issued.status_code == 200
    assert issued["Cache-Control"] == "no-store"
    page = issued.content.decode()
    key = page.split('<code id="new-token" class="token">')[1].split("</code>")[0]
    assert _works(key)
    assert key not in client.get("/account/token/").content.decode()  # shown once
    revoked = client.post("/account/token/", {"action": "revoke"}, follow=True)
    assert "revoked" in revoked.content.decode()
    assert not _works(key)


def test_the_token_page_needs_a_login(client):
    response = client.get("/account/token/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_password_change_revokes_the_token(annotator):
    key, _ = tokens.issue(user=annotator)
    annotator.set_password("a-new-password-77")
    annotator.save()
    assert not _works(key)
    assert _works(_obtain(annotator.username, "a-new-password-77").json()["token"])


def test_saving_a_user_without_a_new_password_keeps_the_token(annotator):
    key, _ = tokens.issue(user=annotator)
    annotator.first_name = "Ann"
    annotator.save()
    assert _works(key)


def test_a_password_hash_upgrade_at_login_is_not_a_password_change(annotator, settings):
    """Django rehashes a password with the preferred hasher when its owner logs in; that is
    the same password, so the token stays."""
    annotator.password = make_password("pw-for-tests-1", hasher="md5")
    annotator.save()
    key, _ = tokens.issue(user=annotator)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert annotator.check_password("pw-for-tests-1")
    annotator.refresh_from_db()
    assert annotator.password.startswith("pbkdf2_")  # upgraded
    assert _works(key)


def test_tokens_do_not_expire_by_default(annotator):
    key, _ = tokens.issue(user=annotator)
    ApiToken.objects.update(created_at=timezone.now() - timedelta(days=3650))
    assert _works(key)


def test_with_a_max_age_an_older_token_no_longer_works(annotator, settings):
    settings.HITL_TOKEN_MAX_AGE_SECONDS = 3600
    key, token = tokens.issue(user=annotator)
    state = _calls_with(key).get("/api/v1/me/token/").json()
    assert state["expires_at"] is not None
    ApiToken.objects.update(created_at=timezone.now() - timedelta(seconds=3601))
    response = _calls_with(key).get("/api/v1/projects/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_tokens_kept_in_plain_text_before_are_hashed_and_keep_working(annotator):
    """The migration to digests: a key from rest_framework.authtoken's table still works,
    and that table no longer holds it."""
    migration = importlib.import_module("annotation.migrations.0011_api_token")
    legacy = migration.LEGACY_TABLE
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {legacy} (key varchar(40) PRIMARY KEY, created timestamp, user_id int)"
        )
        cursor.execute(
            f"INSERT INTO {legacy} VALUES (%s, %s, %s)",
            ["0123456789abcdef0123456789abcdef01234567", timezone.now(), annotator.id],
        )
    from django.apps import apps

    # the migration reads and writes through the editor's connection only
    migration.hash_legacy_tokens(apps, SimpleNamespace(connection=connection))
    assert _works("0123456789abcdef0123456789abcdef01234567")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {legacy}")
        assert cursor.fetchone()[0] == 0
