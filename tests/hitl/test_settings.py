"""Settings come from the environment, strictly; production settings pass Django's deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hitl.env import ConfigurationError, env_bool, env_choice

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("FALSE", False), ("1", True), ("off", False)]
)
def test_booleans_are_read_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("HITL_X", raw)
    assert env_bool("HITL_X") is expected


def test_a_misspelt_boolean_is_an_error_not_false(monkeypatch):
    monkeypatch.setenv("HITL_X", "ture")
    with pytest.raises(ConfigurationError, match="HITL_X"):
        env_bool("HITL_X")


def test_a_choice_is_one_of_its_values_and_a_typo_is_an_error(monkeypatch):
    monkeypatch.setenv("HITL_X", "Staff")
    assert env_choice("HITL_X", ("any", "staff"), "any") == "staff"
    monkeypatch.setenv("HITL_X", "staf")
    with pytest.raises(ConfigurationError, match="use one of any, staff"):
        env_choice("HITL_X", ("any", "staff"), "any")
    monkeypatch.delenv("HITL_X")
    assert env_choice("HITL_X", ("any", "staff"), "any") == "any"


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HITL_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=clean | env,
        timeout=120,
    )


def test_production_without_a_secret_key_refuses_to_start():
    # a database server: the settings keep no key of their own (the embedded default does)
    result = _manage({"DATABASE_URL": "postgres://hitl@127.0.0.1:5432/hitl"}, "check")
    assert result.returncode != 0
    assert "HITL_SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_the_deploy_check():
    env = {
        "HITL_SECRET_KEY": "a" * 20 + "-production-like-secret-" + "z9" * 20,
        "HITL_SECURE_PROXY": "true",
        "HITL_ALLOWED_HOSTS": "hitl.example.org",
    }
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
