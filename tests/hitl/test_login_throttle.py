"""Password guessing is throttled on every door: the login page, the Django admin's login
and POST /api/v1/auth/token/. Failures count per account and per address; a locked account
or address gets 429 (JSON for the API, a page saying so otherwise), and everyone else logs in
as usual."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ATTACKER, ELSEWHERE, THIRD = "203.0.113.7", "198.51.100.20", "192.0.2.33"
PASSWORD = "pw-for-tests-1"


@pytest.fixture
def victim():
    return UserFactory(username="victim")


@pytest.fixture
def bystander():
    return UserFactory(username="bystander")


def _token(username: str, password: str, address: str):
    return Client().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
    )


def _login_page(username: str, password: str, address: str, path: str = "/login/"):
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def _sixty_wrong_in_twenty_seconds(call) -> list:
    started = time.monotonic()
    responses = [call() for _ in range(60)]
    assert time.monotonic() - started < 20
    return responses


def test_sixty_wrong_passwords_to_the_token_api_get_429s(victim, bystander, settings):
    responses = _sixty_wrong_in_twenty_seconds(lambda: _token("victim", "guess", ATTACKER))
    statuses = [response.status_code for response in responses]
    limit = settings.AXES_FAILURE_LIMIT
    assert statuses[: limit - 1] == [400] * (limit - 1)
    assert set(statuses[limit:]) == {429}
    locked = responses[-1]
    assert "Too many failed logins" in locked.json()["detail"]
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()

    assert _token("victim", PASSWORD, ATTACKER).status_code == 429  # the right one, too late
    fine = _token("bystander", PASSWORD, ELSEWHERE)
    assert fine.status_code == 200 and fine.json()["token"]


def test_sixty_wrong_passwords_on_the_login_page_show_the_lockout(victim, bystander):
    responses = _sixty_wrong_in_twenty_seconds(lambda: _login_page("victim", "guess", ATTACKER))
    assert responses[0].status_code == 200  # the form again, with its error
    locked = responses[-1]
    assert locked.status_code == 429
    assert "Too many failed logins for this account or from this address" in locked.content.decode()

    assert _login_page("victim", PASSWORD, ATTACKER).status_code == 429
    assert _login_page("bystander", PASSWORD, ELSEWHERE).status_code == 302  # logged in


def test_sixty_wrong_passwords_on_the_admin_login_are_locked_out_too(bystander):
    get_user_model().objects.create_superuser("root", password="pw-root-123")
    admin_login = "/admin/login/?next=/admin/"
    responses = _sixty_wrong_in_twenty_seconds(
        lambda: _login_page("root", "guess", ATTACKER, admin_login)
    )
    assert responses[-1].status_code == 429
    assert "Too many failed logins" in responses[-1].content.decode()
    assert _login_page("root", "pw-root-123", ATTACKER, admin_login).status_code == 429
    get_user_model().objects.filter(username="bystander").update(is_staff=True)
    assert _login_page("bystander", PASSWORD, ELSEWHERE, admin_login).status_code == 302


def test_the_lock_holds_for_the_account_everywhere_and_for_the_address_for_everyone(
    victim, bystander
):
    """Per account: guessing from many addresses does not help. Per address: trying many
    accounts from one address does not either."""
    for _ in range(10):
        _token("victim", "guess", ATTACKER)
    assert _token("victim", PASSWORD, ELSEWHERE).status_code == 429
    assert _token("bystander", PASSWORD, ATTACKER).status_code == 429
    assert _token("bystander", PASSWORD, ELSEWHERE).status_code == 200


def test_a_few_typos_do_not_lock_anyone_out(victim):
    for _ in range(3):
        assert _login_page("victim", "typo", ATTACKER).status_code == 200
    assert _login_page("victim", PASSWORD, ATTACKER).status_code == 302


def test_the_lock_lifts_once_the_failures_are_older_than_the_cool_off(victim, settings):
    for _ in range(12):
        _token("victim", "guess", ATTACKER)
    assert _token("victim", PASSWORD, ATTACKER).status_code == 429
    older = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=older)
    assert _token("victim", PASSWORD, ATTACKER).status_code == 200


def test_attempts_on_unknown_usernames_are_locked_the_same(bystander):
    """The lockout says nothing about whether a username exists."""
    for _ in range(10):
        _token("nobody-by-this-name", "guess", THIRD)
    response = _token("nobody-by-this-name", "guess", ELSEWHERE)
    assert response.status_code == 429


def test_the_address_is_read_from_x_forwarded_for_only_when_trusted(victim, settings):
    def from_proxy(forwarded: str):
        return Client().post(
            "/api/v1/auth/token/",
            {"username": "someone", "password": "guess"},
            content_type="application/json",
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    from_proxy(ATTACKER)  # not trusted by default: anyone can write the header
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["10.0.0.1"]
    AccessAttempt.objects.all().delete()

    settings.HITL_TRUST_X_FORWARDED_FOR = True
    for _ in range(10):
        from_proxy(f"1.2.3.4, {ATTACKER}")
    assert AccessAttempt.objects.filter(ip_address=ATTACKER).exists()
    assert _token("victim", PASSWORD, "10.0.0.1").status_code == 200  # the proxy is not locked
    from_proxy("not-an-address")
    assert AccessAttempt.objects.filter(ip_address="10.0.0.1").exists()
