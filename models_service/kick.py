"""Asking for a round from a web request without ever waiting on the broker.

The annotation is already committed in PostgreSQL, which is what makes a round due; this only
shortens the wait. Kicks are coalesced per process and project (four a second at most), and
sent from a background thread with no retries: with the broker down the request still answers
at once, and the worker's sweep starts the round once the broker is back.

No kick goes out while a round of the project is in flight: when it closes, the round itself
starts the next one if labels made it due (rounds.after_round). Those kicks were no-ops that
cost the worker 15-50 ms each; during a 1M round, a quarter of its only process's time.
"""

import logging
import threading
import time

from django.conf import settings

from models_service import schedule

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 0.25
_last_kick: dict[int, float] = {}
_lock = threading.Lock()


def kick(project_id: int, *, asked: bool = False) -> bool:
    """Ask a worker to check the project; False when a kick went out less than MIN_INTERVAL_S ago
    (unless an admin `asked` for a round: an answer's kick just before would have swallowed the
    request until the sweep), when a round is in flight, or when kicks are off
    (HITL_KICK_ROUNDS, which the tests turn on only where they test it)."""
    if not settings.HITL_KICK_ROUNDS:
        return False
    now = time.monotonic()
    with _lock:
        if not asked and now - _last_kick.get(project_id, -MIN_INTERVAL_S) < MIN_INTERVAL_S:
            return False
        _last_kick[project_id] = now
    if schedule.round_in_flight(project_id):
        return False
    threading.Thread(target=_send, args=(project_id,), daemon=True).start()
    return True


TRAIN_PROJECT = "models_service.tasks.train_project"


def _send(project_id: int) -> None:
    from hitl.celery import app

    try:
        # by name: importing the task module would load scikit-learn into the web process
        app.send_task(TRAIN_PROJECT, (project_id,), retry=False)
    except Exception as error:  # broker down: the sweep will find the round due
        log.warning("could not ask for a round of project %s: %s", project_id, error)


def on_answers_recorded(*, project_id: int, **_facts) -> None:
    """A round may be due (annotation.events.answers_recorded)."""
    kick(project_id)


def on_items_imported(*, project_id: int, **_facts) -> None:
    """A new pool needs its diverse seeds (annotation.events.items_imported); the sweep
    chooses them too, if this kick is lost."""
    kick(project_id)
