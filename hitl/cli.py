"""`hitl run`: the whole platform in one command, on the embedded default or production settings.

It migrates, loads the demo project when asked, starts real Celery workers (the loop's and the
imports'), the beat and the gunicorn web server, prints where to log in, and stops them all on
Ctrl-C or when one of them dies.
"""

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from hitl.env import private_secret

ROOT = Path(__file__).resolve().parent.parent


def _var_dir() -> Path:
    return Path(os.environ.get("HITL_VAR_DIR") or ROOT / "var")


def _ensure_secret_key() -> None:
    """Use HITL_SECRET_KEY if set; otherwise a random key kept in var/secret_key (0600), on
    a database server too (the settings make it themselves only for the embedded default)."""
    if os.environ.get("HITL_SECRET_KEY") or os.environ.get("HITL_SECRET_KEY_FILE"):
        return
    path = _var_dir() / "secret_key"
    private_secret(path)
    os.environ["HITL_SECRET_KEY_FILE"] = str(path)


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, check=True)


def run(args: argparse.Namespace) -> int:
    if problem := _port_taken(args.host, args.port):
        print(
            f"hitl cannot listen on {args.host}:{args.port}: {problem}. Stop what uses it (another "
            f"hitl run?), or pick another port: hitl run --port {args.port + 1}",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl.settings")
    _ensure_secret_key()
    # The web server serves static files from their source folders (WHITENOISE_USE_FINDERS),
    # but WhiteNoise warns at start-up unless STATIC_ROOT, where collectstatic writes, exists.
    (_var_dir() / "staticfiles").mkdir(parents=True, exist_ok=True)
    _manage("migrate", "--no-input", "-v", "0")
    if args.demo:
        _manage("load_demo")
    # --quiet: no banners; the address printed below is what a newcomer needs
    celery = [sys.executable, "-m", "celery", "-A", "hitl", "--quiet"]
    var = _var_dir()
    # the loop's rounds, and the imports on a worker of their own (hitl.settings' routes)
    worker = _start(
        *celery,
        "worker",
        "--loglevel=WARNING",
        "--queues=celery",
        "--hostname=rounds@%h",
        f"--concurrency={args.worker_concurrency}",
    )
    importer = _start(
        *celery,
        "worker",
        "--loglevel=WARNING",
        "--queues=imports",
        "--hostname=imports@%h",
        "--pool=solo",
    )
    # the beat runs the sweeps that start what PostgreSQL says is due; its own process, watched
    # like the others, so that it never outlives a killed worker
    beat = _start(
        *celery, "beat", "--loglevel=WARNING", "--schedule", str(var / "celerybeat-schedule")
    )
    web = _start(
        sys.executable,
        "-m",
        "gunicorn",
        "hitl.wsgi",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.web_workers),
        "--threads",
        str(args.threads),
        # Ctrl-C: a worker busy with a request has this long, then it is stopped (default 30)
        "--graceful-timeout",
        "5",
        # gunicorn writes no access log unless asked (formatting one costs every request)
        *(["--access-logfile", "-"] if args.access_log else []),
    )
    url = (
        f"http://{'localhost' if args.host in ('127.0.0.1', '0.0.0.0') else args.host}:{args.port}/"
    )
    processes = [web, worker, importer, beat]
    if _answers(url, processes):  # the address is printed once it works, not before
        print(f"\nhitl is running at {url}  (API docs: {url}api/v1/docs/)", flush=True)
        if args.demo:
            print("log in as demo / demo-password (demo project loaded)", flush=True)
        print("Ctrl-C stops the web server and the workers.\n", flush=True)
    return _supervise(processes)


def _port_taken(host: str, port: int) -> str | None:
    """Why the web server could not listen there (the port in use, say), or None. The probe
    binds as gunicorn does (SO_REUSEADDR): connections of a stopped run still closing on the
    port (TIME_WAIT) do not keep a server from it, so they must not stop a restart either."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _answers(url: str, processes: list[subprocess.Popen], timeout: float = 60) -> bool:
    """Wait until the web server answers its health check; False if a process died first or
    it never answered (the supervisor then reports and stops the rest)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        try:
            with urllib.request.urlopen(url + "healthz/", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _start(*command: str) -> subprocess.Popen:
    """Start a child that dies with this process, even when this one is killed outright, in
    a process group of its own: stopping it stops what it forked too (gunicorn's workers)."""
    return subprocess.Popen(  # noqa: PLW1509
        command, cwd=ROOT, preexec_fn=_die_with_parent, process_group=0
    )


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before it runs: ask Linux for SIGTERM when the parent dies (elsewhere,
    Ctrl-C and the supervisor's stop still end every child)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _supervise(processes: list[subprocess.Popen]) -> int:
    """Wait until Ctrl-C or until one process dies; then stop the others (a worker killed
    outright takes the beat, the other worker and the web server with it, so a restart never
    finds a second beat running)."""
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while not stopping:
        exited = [p for p in processes if p.poll() is not None]
        if exited:
            code = exited[0].returncode or 1
            print(f"a process exited with code {exited[0].returncode}; stopping", file=sys.stderr)
            break
        time.sleep(0.5)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        # what it forked and left behind (a web worker still holding the port): gone now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hitl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser(
        "run",
        help="run the web server and the workers",
        description="Migrate the database, then run the web server (gunicorn), the loop's "
        "worker, the imports' worker and the beat until Ctrl-C.",
    )
    runner.add_argument(
        "--host",
        default=os.environ.get("HITL_HOST", "127.0.0.1"),
        help="address to listen on (default 127.0.0.1, or HITL_HOST; 0.0.0.0 for every one)",
    )
    runner.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("HITL_PORT", "8000")),
        help="port to listen on (default 8000, or HITL_PORT)",
    )
    runner.add_argument(
        "--web-workers", type=int, default=2, help="web server processes (default 2)"
    )
    runner.add_argument(
        "--threads", type=int, default=4, help="threads per web server process (default 4)"
    )
    runner.add_argument(
        "--worker-concurrency",
        type=int,
        default=1,
        help="processes of the worker that trains and scores the model (default 1)",
    )
    runner.add_argument(
        "--demo", action="store_true", help="create the demo user and project (if missing)"
    )
    runner.add_argument(
        "--access-log", action="store_true", help="log every request to standard output"
    )
    runner.set_defaults(handler=run)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
