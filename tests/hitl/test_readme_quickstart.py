"""The README's quick start, run as written in a fresh clone of the committed HEAD.

The commands come from the README itself, so that the two cannot drift apart: the block after
`<!-- quickstart: server -->` runs in the background (on a free port, through the `--port`
option the README documents) and is stopped as Ctrl-C stops it; the blocks after
`<!-- quickstart -->` run in order in one shell, as a reader pastes them into a second
terminal (the one change: `localhost:8000` becomes that port).
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.hitl.running import free_port, newcomer_env, port_free
from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(
    r"<!-- quickstart(?P<server>: server)?\b[^>]*-->\s*```sh\n(?P<body>.*?)```", re.S
)
# Celery's own warning when its worker runs as root, which a newcomer's account is not (CI's
# and this suite's machines are): the only line let through, and only for root.
AS_ROOT = "SecurityWarning: You're running the worker with superuser privileges"


def quickstart_blocks(readme: str) -> tuple[str, list[str]]:
    """(the server's command, the other commands in order), backslash-continued lines joined."""
    server, commands = None, []
    for block in BLOCK.finditer(readme):
        lines = block["body"].replace("\\\n", " ").splitlines()
        found = [line.strip() for line in lines if line.strip()]
        if block["server"]:
            [server] = found
        else:
            commands += found
    assert server is not None and commands, "the README marks no quick start"
    return server, commands


def _clone(tmp_path: Path) -> Path:
    """A clone of the committed HEAD that uses the suite's .venv, where scripts/bootstrap.sh
    would find nothing to install in it (installing takes minutes): the bootstrap still runs
    as in any clone, and installs nothing (else it would install the clone's code into the
    suite's own environment)."""
    clone = tmp_path / "hitl"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    digest = hashlib.sha256((clone / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = ROOT / ".venv" / ".installed"
    if not stamp.exists() or stamp.read_text().split() not in ([digest], [digest, "dev"]):
        unavailable(
            "needs the suite's .venv installed from the committed pyproject.toml (scripts/test "
            "installs it; an uncommitted change to pyproject.toml stops the clone sharing it)"
        )
    (clone / ".venv").symlink_to(ROOT / ".venv")
    return clone


def _wait_for_address(log: Path, process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 90
    while f"hitl is running at http://localhost:{port}/" not in log.read_text():
        assert process.poll() is None, "scripts/run exited:\n" + log.read_text()
        assert time.monotonic() < deadline, "no address within 90 s:\n" + log.read_text()
        time.sleep(0.2)


def _run_in_one_shell(commands: list[str], cwd: Path, env: dict) -> tuple[list[str], dict]:
    """Run the commands in order in one bash (stopping at the first that fails); return each
    one's output and the variables they set."""
    names = sorted({m[1] for c in commands if (m := re.match(r"([A-Z_]+)=", c))})
    script = ["set -euo pipefail"]
    for index, command in enumerate(commands):
        script += [f"echo '### {index}'", command]
    script += ["echo '### variables'"] + [f'echo "{name}=${name}"' for name in names]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # (an answer without a final newline leaves the next marker on its line)
    parts = re.split(r"\n?### \S+\n", done.stdout)[1:]
    assert done.returncode == 0, f"command {len(parts) - 1} failed: {done.stdout}{done.stderr}"
    assert done.stderr == ""
    assert len(parts) == len(commands) + 1
    variables = dict(line.split("=", 1) for line in parts[-1].splitlines())
    return parts[:-1], variables


def _wait_for_seeds(database: Path, project: str) -> None:
    """Until the worker has chosen the imported items' seeds: it is up, and it ran the task
    the import asked for (with whatever it prints), so the log below has seen both."""
    deadline = time.monotonic() + 120  # a worker's start took over 60 s on a loaded machine
    query = "SELECT count(*) FROM annotation_seed WHERE project_id = ?"
    while True:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            if db.execute(query, (int(project),)).fetchone()[0] > 0:
                return
        assert time.monotonic() < deadline, "the worker chose no seeds for the import"
        time.sleep(0.2)


def _checked_lines(log: str) -> list[str]:
    """The lines scripts/run printed that warn or report an error."""
    flagged = [
        line
        for line in log.splitlines()
        if any(word in line for word in ("Warning", "WARNING", "ERROR", "Traceback"))
    ]
    if os.geteuid() == 0:
        flagged = [line for line in flagged if AS_ROOT not in line]
    return flagged


@pytest.mark.skipif(not shutil.which("curl"), reason="the README's API examples use curl")
def test_the_readme_quick_start_works_as_written_in_a_fresh_clone(tmp_path):
    """Each command succeeds and says what it should (the project made, the items imported
    and exported); Ctrl-C frees the port within 5 s; and every line scripts/run printed, from
    its start through the API calls and the worker's seeding of the import to its stop, is
    free of "Warning", "WARNING", "ERROR" and "Traceback" (but for Celery's warning about
    root, when the suite runs as root)."""
    readme = (ROOT / "README.md").read_text()
    server_command, commands = quickstart_blocks(readme)
    assert server_command == "scripts/run" and "scripts/run --port" in readme
    clone = _clone(tmp_path)
    env = newcomer_env()
    port = free_port()
    commands = [c.replace("localhost:8000", f"localhost:{port}") for c in commands]
    log = tmp_path / "run.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            ["bash", "-c", f"{server_command} --port {port}"],
            cwd=clone,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, as a terminal's foreground job
        )
    try:
        _wait_for_address(log, server, port)
        outputs, variables = _run_in_one_shell(commands, clone, env)

        token, project = variables["TOKEN"], variables["PROJECT"]
        assert outputs[0] == "" and len(token) >= 40  # create_api_user: the key alone
        rows = [json.loads(line) for line in (clone / "items.jsonl").read_text().splitlines()]
        imported = json.loads(next(o for o in outputs if '"created"' in o))
        assert imported["created"] == len(rows) >= 1
        exported = [json.loads(line) for line in outputs[-1].splitlines()]
        assert [(e["external_id"], e["data"]["text"]) for e in exported] == [
            (row["external_id"], row["text"]) for row in rows
        ]
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Token {token}"},
            timeout=10,
        )
        assert [p["id"] for p in api.get("/projects/").json()] == [int(project)]
        assert api.get(f"/projects/{project}/progress/").json()["total"] == len(rows)
        _wait_for_seeds(clone / "var" / "hitl.sqlite3", project)

        stopped = time.monotonic()
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        while not port_free(port):
            assert time.monotonic() - stopped < 5, "the port is still taken 5 s after Ctrl-C"
            time.sleep(0.05)
        assert server.wait(timeout=15) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert _checked_lines(log.read_text()) == []
