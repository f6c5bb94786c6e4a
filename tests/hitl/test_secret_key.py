"""`hitl run` keeps its generated secret key in a file that only its owner can read, from the
moment the file exists: a key written first and restricted afterwards is readable by anyone
on the machine in between (and for good, if the process dies before the chmod)."""

import os
import stat
from pathlib import Path

from hitl import cli


def test_the_secret_key_file_is_created_private_not_made_private_afterwards(monkeypatch, tmp_path):
    monkeypatch.delenv("HITL_SECRET_KEY", raising=False)
    monkeypatch.delenv("HITL_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("HITL_VAR_DIR", str(tmp_path / "var"))
    # A process that dies right after writing the key: no later chmod gets to run.
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    old_umask = os.umask(0o022)  # the usual umask, which leaves new files world-readable
    try:
        cli._ensure_secret_key()
    finally:
        os.umask(old_umask)

    path = tmp_path / "var" / "secret_key"
    assert os.environ["HITL_SECRET_KEY_FILE"] == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text()) >= 50


def test_an_existing_secret_key_file_is_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("HITL_SECRET_KEY", raising=False)
    monkeypatch.delenv("HITL_SECRET_KEY_FILE", raising=False)
    monkeypatch.setenv("HITL_VAR_DIR", str(tmp_path))
    (tmp_path / "secret_key").write_text("kept-key")
    cli._ensure_secret_key()
    assert (tmp_path / "secret_key").read_text() == "kept-key"
