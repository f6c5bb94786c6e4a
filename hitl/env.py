"""Strict readers for settings that come from the environment.

A typo in production configuration should stop the process at start-up, not quietly turn a
feature off: `HITL_DEBUG=ture` is an error, not False.
"""

import os
import secrets
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(RuntimeError):
    """A setting in the environment has a value we cannot use."""


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean; accept 1/0, true/false, yes/no, on/off (any case)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    """Read an integer, failing loudly on anything else."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not an integer") from None


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """Read one of `choices` (any case); anything else is an error, not the default."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigurationError(f"{name}={raw!r}: use one of {', '.join(choices)}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list, dropping blanks."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_secret(name: str) -> str | None:
    """Read a secret from NAME, or from the file that NAME_FILE points to (Docker secrets)."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return None


def private_secret(path: Path) -> str:
    """The secret kept in `path`, made there first if missing: random, and readable by its
    owner only from the moment the file exists (created 0600, never chmod-ed after writing,
    when anyone on the machine could read it). Written to a file of this process's own, then
    linked into place: processes starting together all read the one whole key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        own = path.with_name(f".{path.name}.{os.getpid()}")
        # O_EXCL: never through someone else's file or link
        descriptor = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(own, path)
        except FileExistsError:
            pass  # another process was first: its key is the one
        finally:
            os.unlink(own)
    return path.read_text().strip()
