"""`hitl run --demo`, the README's first command, as a newcomer runs it: SQLite, the
filesystem broker, gunicorn and a real worker process, all started by the command itself."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "hitl run exited early"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def running_demo(tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
    env["HITL_VAR_DIR"] = str(tmp_path)
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "hitl.cli", "run", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz/", process)
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_run_command_serves_the_demo_project_and_runs_jobs_in_its_worker(running_demo):
    base, var_dir = running_demo
    assert (var_dir / "hitl.sqlite3").exists()
    assert (var_dir / "secret_key").stat().st_mode & 0o077 == 0  # readable by its owner only
    token = httpx.post(
        f"{base}/api/v1/auth/token/", data={"username": "demo", "password": "demo-password"}
    ).json()["token"]
    client = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=10)
    projects = client.get("/api/v1/projects/").json()
    assert [p["name"] for p in projects] == ["Demo: what is this text about?"]
    demo = projects[0]["id"]
    assert client.get(f"/api/v1/projects/{demo}/progress/").json()["total"] == 300
    assert client.get(f"/api/v1/projects/{demo}/next/").status_code == 200

    job = client.post(
        f"/api/v1/projects/{demo}/items/import/?async=true",
        content=b'{"text": "through the worker"}\n',
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert job.status_code == 202
    deadline = time.monotonic() + 60
    while client.get(job.json()["url"]).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the embedded worker did not run the import job"
        time.sleep(0.2)
    assert client.get(f"/api/v1/projects/{demo}/progress/").json()["total"] == 301


def _children(pid: int) -> dict[int, str]:
    """{pid: command line} of a Linux process's children."""
    listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {
        int(child): Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for child in listed
        if Path(f"/proc/{child}/cmdline").exists()
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}/status").exists() else ""
    return "State:\tZ" not in status  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_a_worker_killed_outright_takes_the_beat_and_the_rest_with_it(tmp_path):
    """The beat once lived on as an orphan of a killed worker and kept queueing sweeps: two
    beats after a restart."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
    env["HITL_VAR_DIR"] = str(tmp_path)
    port = _free_port()
    with (tmp_path / "run.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hitl.cli", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz/", process)
            children = _children(process.pid)
            [beat] = [pid for pid, command in children.items() if " beat " in command]
            [worker] = [pid for pid, command in children.items() if "--queues=celery" in command]
            os.kill(worker, signal.SIGKILL)
            assert process.wait(timeout=60) != 0  # the supervisor stopped everything and says so
            deadline = time.monotonic() + 30
            while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not _alive(beat)
            assert [pid for pid in children if _alive(pid)] == []
        finally:
            if process.poll() is None:
                process.kill()


def _clean_env(tmp_path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HITL_", "DJANGO_", "DATABASE_URL", "CELERY_"))
    }
    env["HITL_VAR_DIR"] = str(tmp_path)
    return env


def test_a_restart_right_after_a_stop_is_not_refused(tmp_path):
    """Connections of the stopped run still closing on the port (TIME_WAIT) do not count as
    the port being taken."""
    from hitl.cli import _port_taken

    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    assert _port_taken("127.0.0.1", port) is None


def test_a_taken_port_is_said_plainly_with_another_to_try(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "hitl.cli", "run", "--port", str(port)],
            cwd=ROOT,
            env=_clean_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"hitl run --port {port + 1}" in result.stderr
    assert not (tmp_path / "hitl.sqlite3").exists()  # nothing was started or migrated


def test_ctrl_c_stops_everything_and_frees_the_port_within_seconds(tmp_path):
    port = _free_port()
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "hitl.cli", "run", "--port", str(port)],
        cwd=ROOT,
        env=_clean_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz/", process)
        deadline = time.monotonic() + 10
        while "hitl is running at" not in (tmp_path / "run.log").read_text():
            assert time.monotonic() < deadline, "the address was not printed once it answered"
            time.sleep(0.1)
        started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        process.wait(timeout=15)
        with socket.socket() as probe:  # free again for a server (closing connections aside)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
            probe.listen()
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
