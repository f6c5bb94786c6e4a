"""`manage.py create_api_user`, the README's way to a token, in a fresh clone: no secret key set
by hand and no database yet (before the first `scripts/run`), then beside a running one."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fresh_clone_env(var_dir: Path) -> dict[str, str]:
    """Nothing set, as in a newcomer's shell: the embedded default in a var/ of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
    return env | {"HITL_VAR_DIR": str(var_dir)}


def _create_api_user(env: dict[str, str], username: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "create_api_user", username],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_create_api_user_works_with_no_secret_key_and_no_database_yet(tmp_path):
    var_dir = tmp_path / "var"
    first = _create_api_user(_fresh_clone_env(var_dir), "alice")
    assert first.returncode == 0, first.stderr
    [token] = first.stdout.split()  # the key alone: `TOKEN=$(...)` takes all of it
    assert len(token) >= 40
    assert first.stderr == ""
    key = var_dir / "secret_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    made = key.read_text()
    again = _create_api_user(_fresh_clone_env(var_dir), "bob")
    assert again.returncode == 0, again.stderr
    assert key.read_text() == made  # kept, not made again: sessions outlive a command
    assert again.stdout.split() != [token]


def test_the_key_the_settings_make_is_the_one_hitl_run_uses(tmp_path, monkeypatch):
    from hitl import cli

    var_dir = tmp_path / "var"
    assert _create_api_user(_fresh_clone_env(var_dir), "alice").returncode == 0
    made = (var_dir / "secret_key").read_text()
    monkeypatch.delenv("HITL_SECRET_KEY", raising=False)
    monkeypatch.delenv("HITL_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("HITL_VAR_DIR", str(var_dir))
    cli._ensure_secret_key()
    assert Path(os.environ["HITL_SECRET_KEY_FILE"]).read_text() == made
