"""The worker's pool processes give way to the web server, and never outlive the worker."""

import os
import signal
import time
from pathlib import Path

import hitl.celery as worker_app
from tests.worker import start_worker, wait_until_ready


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited while we looked
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _nice(processes: list[int]) -> list[int]:
    return [os.getpriority(os.PRIO_PROCESS, p) for p in processes]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; it only waits to be reaped


def test_pool_processes_run_lowered_in_a_group_of_their_own_and_die_with_the_worker(tmp_path):
    """Where the kernel groups processes by session (autogroup), a nice value ranks a process
    only within its group, so each pool process takes a session of its own whose group runs
    at the worker's nice. Leaving the worker's process group must not let a pool process
    outlive a worker killed with its group (as the kill tests and supervisors do)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "hitl.settings",
        "HITL_SECRET_KEY": "test-worker",
        "HITL_VAR_DIR": str(tmp_path),  # a private filesystem broker: no other worker's tasks
        "HITL_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "HITL_WORKER_NICE": "10",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, "--pool=prefork", "--concurrency=2")
    try:
        wait_until_ready(worker, log)
        deadline = time.monotonic() + 30
        while len(pool := _children(worker.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(pool) == 2, log.read_text()
        # the pool processes have run worker_process_init once their nice is lowered
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _nice(pool) != [10, 10]:
            time.sleep(0.1)
        assert _nice(pool) == [10, 10]
        if worker_app.AUTOGROUP.exists():
            for process in pool:
                assert os.getsid(process) == process != os.getsid(worker.pid)
                assert Path(f"/proc/{process}/autogroup").read_text().strip().endswith("nice 10")

        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pool) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pool)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def test_a_worker_of_the_imports_queue_alone_stands_back_less_than_the_loop(tmp_path):
    """Someone waits for an import: its worker's pool runs ahead of the rounds' (nice 10),
    still behind the web (nice 0)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_URL")}
    env |= {
        "DJANGO_SETTINGS_MODULE": "hitl.settings",
        "HITL_SECRET_KEY": "test-worker",
        "HITL_VAR_DIR": str(tmp_path),
        "HITL_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "HITL_WORKER_NICE": "10",
        "HITL_IMPORT_WORKER_NICE": "4",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, "--pool=prefork", "--concurrency=1", "--queues=imports")
    try:
        wait_until_ready(worker, log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            len(pool := _children(worker.pid)) < 1 or _nice(pool) != [4]
        ):
            time.sleep(0.1)
        assert _nice(pool) == [4], log.read_text()
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def test_a_pool_process_busy_in_a_task_dies_with_its_worker():
    """An idle pool process quits when its pipe to the worker closes; one in the middle of a
    long task would not notice until the task's end, and out of the worker's process group
    nothing else would stop it. A stand-in worker forks a stand-in pool process that takes
    the same steps as a real one, then sleeps as if in a task; the worker is killed."""
    read, write = os.pipe()
    stand_in = os.fork()
    if stand_in == 0:  # the worker's main process
        try:
            worker_app._MAIN_PROCESS = os.getpid()
            if os.fork() == 0:  # its pool process
                worker_app._own_scheduling_group(10)
                os.write(write, f"{os.getpid()}\n".encode())
                while True:
                    time.sleep(0.05)
            while True:
                time.sleep(1)
        finally:
            os._exit(0)
    pool_process = int(os.read(read, 32).decode())
    try:
        os.kill(stand_in, signal.SIGKILL)
        os.waitpid(stand_in, 0)
        deadline = time.monotonic() + 10
        while _alive(pool_process) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pool_process)
    finally:
        if _alive(pool_process):
            os.kill(pool_process, signal.SIGKILL)
