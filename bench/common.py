"""Shared pieces of the benchmarks: a real server (gunicorn, as `hitl run` starts it), users
with tokens, synthetic texts, and tables. Benchmarks measure; they assert nothing."""

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres")
WORDS = (
    "alpha beta gamma delta model label queue lease import export annotate review sound "
    "graphics game science mail database vector sample random signal noise test data"
).split()


CLASSES = ["audio", "graphics", "science", "mail"]
TOPIC_WORDS = {
    "audio": "sound music audio player volume codec mixer synth",
    "graphics": "image pixel render colour shader vector bitmap font",
    "science": "physics chemistry model simulation data matrix numeric theory",
    "mail": "mail message inbox smtp spam folder header attachment",
}
COMMON = "tool library program package user file system support free small fast".split()


def texts(n: int, seed: int = 7) -> list[str]:
    """n short synthetic texts (8-20 words), the same for the same seed."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.randint(8, 20))) + f" #{i}" for i in range(n)]


def jsonl_body(n: int, prefix: str = "x") -> bytes:
    return "\n".join(
        json.dumps({"external_id": f"{prefix}{i}", "text": t}) for i, t in enumerate(texts(n))
    ).encode()


def csv_body(n: int, prefix: str = "c") -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["external_id", "text"])
    writer.writerows((f"{prefix}{i}", t) for i, t in enumerate(texts(n)))
    return buffer.getvalue().encode()


def pool_jsonl(n: int, seed: int = 3) -> bytes:
    """n short texts (8-16 words), each mostly words of its class, some shared words; the
    class is in each row's `truth`, for simulated annotators (a model learns it quickly)."""
    rng = random.Random(seed)
    topic = {c: words.split() for c, words in TOPIC_WORDS.items()}
    lines = []
    for i in range(n):
        label = CLASSES[i % len(CLASSES)]
        words = [
            rng.choice(topic[label]) if rng.random() < 0.35 else rng.choice(COMMON)
            for _ in range(rng.randint(8, 16))
        ]
        lines.append(json.dumps({"text": " ".join(words) + f" #{i}", "truth": label}))
    return "\n".join(lines).encode()


def fresh_postgres(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """Drop and create database `name`; return its DATABASE_URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_postgres(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    """Drop database `name` (a bench's, when it is done)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    """Empty a bench's own Redis database: messages a killed worker left unacknowledged would
    otherwise come back into a later run (after the broker's visibility timeout)."""
    import redis

    with redis.Redis.from_url(url) as connection:
        connection.flushdb()


def server_env(database_url: str | None, var_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HITL_", "DATABASE_URL"))}
    env.update(
        HITL_SECRET_KEY="bench-only-secret",
        HITL_VAR_DIR=str(var_dir),
        HITL_IMPORT_SYNC_MAX_BYTES=str(256 * 1024 * 1024),
        **extra,
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env.pop("CELERY_BROKER_URL", None)
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def make_users(env: dict, names: list[str]) -> dict[str, str]:
    """Create users (if missing) and return {username: token}, each newly issued (tokens
    are stored as digests: an existing one cannot be read back). They are staff, so that a
    bench's owner may add the others to its project (others add only people they share a
    project with)."""
    code = (
        "import json\n"
        "from django.contrib.auth.models import User\n"
        "from annotation import tokens\n"
        f"names = {names!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    u, _ = User.objects.update_or_create(username=n, defaults={'is_staff': True})\n"
        "    out[n] = tokens.issue(user=u)[0]\n"
        "print('TOKENS' + json.dumps(out))\n"
    )
    out = manage(env, "shell", "-c", code)
    return json.loads(out.split("TOKENS", 1)[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server(env: dict, workers: int = 2, threads: int = 8):
    """Run gunicorn with the app as the Dockerfile does (one process per core, 8 threads each,
    no access log); yield (base_url, master process)."""
    port = free_port()
    manage(env, "migrate", "--no-input", "-v", "0")
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "hitl.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "300",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz/", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def client(base: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=120)


class LeanClient:
    """A keep-alive HTTP/1.1 client on the standard library, for the load generators.

    httpx cost about 1.3 ms of CPU per call here, which at the targets' rates would take a
    third of this 2-core machine from the server under test; this costs a fifth of that.
    """

    def __init__(self, base: str, token: str):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def get(self, path: str) -> tuple[int, dict | None]:
        return self._call("GET", path, None)

    def post(self, path: str, body: dict) -> tuple[int, dict | None]:
        return self._call("POST", path, json.dumps(body).encode())

    def _call(self, method: str, path: str, body: bytes | None) -> tuple[int, dict | None]:
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def label_with_truth(base: str, token: str, project_id: int, count: int) -> int:
    """One annotator answers `count` items through the API, as people do: `next`, then the
    item's true class (its data's `truth`, pool_jsonl). Returns how many it answered (fewer
    when the queue runs out)."""
    api = LeanClient(base, token)
    answered = 0
    while answered < count:
        status, item = api.get(f"/api/v1/projects/{project_id}/next/")
        if status == 204:
            break
        if status != 200:
            raise RuntimeError(f"next answered {status}: {item}")
        status, body = api.post(
            f"/api/v1/items/{item['id']}/annotations/",
            {"labels": [item["data"]["truth"]], "lead_time_ms": 1000},
        )
        if status != 201:
            raise RuntimeError(f"the answer got {status}: {body}")
        answered += 1
    return answered


def create_project(api: httpx.Client, name: str, **fields) -> int:
    body = {"name": name, "labels": ["pos", "neg", "neutral"], **fields}
    response = api.post("/api/v1/projects/", json=body)
    response.raise_for_status()
    return response.json()["id"]


def add_quality_options(parser) -> None:
    """The label-quality settings a serving benchmark can turn on (issue 26's hot-path cost)."""
    parser.add_argument("--overlap", type=int, default=1)
    parser.add_argument("--max-overlap", type=int, default=None)
    parser.add_argument("--gold", type=int, default=0, help="items marked gold")
    parser.add_argument("--gold-share", type=float, default=0.0)


def apply_quality_options(api: httpx.Client, project_id: int, args) -> str:
    """Set what add_quality_options asked for on an imported project; returns it in words."""
    settings = {"overlap": args.overlap, "gold_share": args.gold_share}
    if args.max_overlap:
        settings["max_overlap"] = args.max_overlap
    api.patch(f"/api/v1/projects/{project_id}/", json=settings).raise_for_status()
    if args.gold:
        page = api.get(f"/api/v1/projects/{project_id}/items/?page_size={args.gold}").json()
        for item in page["results"]:
            api.post(f"/api/v1/items/{item['id']}/gold/", json={"labels": ["pos"]})
    return ", ".join(f"{key} {value}" for key, value in settings.items()) + (
        f", {args.gold} gold items" if args.gold else ""
    )


def add_members(api: httpx.Client, project_id: int, usernames: list[str]) -> None:
    for username in usernames:
        api.post(
            f"/api/v1/projects/{project_id}/members/",
            json={"username": username, "role": "annotator"},
        ).raise_for_status()


def import_jsonl(api: httpx.Client, project_id: int, body: bytes) -> float:
    start = time.perf_counter()
    response = api.post(
        f"/api/v1/projects/{project_id}/items/import/",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    response.raise_for_status()
    return time.perf_counter() - start


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the web server (gunicorn), PostgreSQL and this process: read
    twice around a run, the difference says which side of the machine the run kept busy."""
    used = {"web": 0.0, "database": 0.0, "client": time.process_time()}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                command = file.read()
            with open(f"/proc/{pid}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        group = "web" if b"gunicorn" in command else "database" if b"postgres" in command else None
        if group:
            used[group] += (int(fields[11]) + int(fields[12])) / tick
    return used


def cores_used(before: dict, after: dict, seconds: float) -> str:
    """'web 1.2 · database 0.5 · client 0.2' cores, from two cpu_seconds() readings."""
    return " · ".join(f"{k} {(after[k] - before[k]) / seconds:.2f}" for k in before)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def add_run_options(parser, *, seeds: int) -> None:
    """The options of both label-efficiency benches: which seeds, data sets and budget."""
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds run: first-seed .. first-seed+seeds-1"
    )
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument("--datasets", nargs="+", default=["digits", "texts"])
    parser.add_argument("--budget", type=int, help="labels per run (default: per data set)")


def table(title: str, header: list[str], rows: list[list]) -> str:
    """Print and return a Markdown table."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    text = "\n".join(
        [
            f"\n### {title}\n",
            line(header),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *map(line, rows),
        ]
    )
    print(text, flush=True)
    return text


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            key, value = line.split(":")
            fields[key] = int(value.split()[0])
    return fields


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def worker(env: dict, concurrency: int = 2, beat: bool = True, log: Path | None = None):
    """Run a Celery worker (with its beat, as `hitl run` does) for the app; yield the process."""
    command = [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "hitl",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--queues=celery,imports",
    ]
    if beat:
        command += ["--beat", "--schedule", str(Path(env["HITL_VAR_DIR"]) / "beat-schedule")]
    output = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # the worker connects; messages sent meanwhile wait in the broker
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# The Celery processes as docker-compose.yml (and `hitl run`) runs them: the loop's worker,
# the imports' worker, and one beat.
LOOP_WORKER = ("worker", "--loglevel=INFO", "--queues=celery", "--hostname=rounds@%h")
IMPORT_WORKER = (
    "worker",
    "--loglevel=INFO",
    "--queues=imports",
    "--hostname=imports@%h",
    "--concurrency=1",
)


def celery_process(env: dict, *args: str, log: Path) -> subprocess.Popen:
    """Start `celery -A hitl ARGS` in a session of its own, writing to `log`: os.killpg on its
    pid then ends it with its pool (pool processes that leave the group for a scheduling
    group of their own die with the worker: hitl.celery), and nothing else."""
    with open(log, "w") as output:
        return subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "hitl", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process from celery_process and its group: SIGTERM (a worker finishes its
    tasks), then SIGKILL after `timeout` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_ready(log: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until a worker's log says it is ready (it consumes its queues)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery exited with {process.returncode}; see {log}")
        if " ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"celery was not ready after {timeout} s; see {log}")


@contextlib.contextmanager
def production_workers(env: dict, *, beat: bool = True, concurrency: int = 2, logs: Path):
    """Run the Celery processes as production does (docker-compose.yml): a worker for the
    loop's queue (`celery`: seeds, rounds, sweeps) with `concurrency` pool processes, a worker
    for the `imports` queue (one process) and, with `beat`, the beat that runs the sweep.
    Yields {"worker", "importer"[, "beat"]: process}, logs in `logs`; a caller may put a new
    process in place of one it killed: the exit stops what the dict then holds."""
    processes = {
        "worker": celery_process(
            env, *LOOP_WORKER, f"--concurrency={concurrency}", log=logs / "worker.log"
        ),
        "importer": celery_process(env, *IMPORT_WORKER, log=logs / "importer.log"),
    }
    if beat:
        schedule = str(Path(env["HITL_VAR_DIR"]) / "celerybeat-schedule")
        processes["beat"] = celery_process(
            env, "beat", "--loglevel=INFO", "--schedule", schedule, log=logs / "beat.log"
        )
    try:
        wait_ready(logs / "worker.log", processes["worker"])
        wait_ready(logs / "importer.log", processes["importer"])
        yield processes
    finally:
        for process in processes.values():
            stop_group(process)
