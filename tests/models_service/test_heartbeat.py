"""A round's claim lives while a task of the round runs (its heartbeat), however long, and dies
within HITL_TRAINING_STALE_SECONDS of the last beat: a dead worker's round is soon taken over."""

import time

import pytest

from models_service import schedule
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the beat writes from its own thread


def test_a_claim_held_by_a_beating_task_outlives_the_stale_time_and_dies_soon_after(settings):
    settings.HITL_HEARTBEAT_SECONDS, settings.HITL_TRAINING_STALE_SECONDS = 0.2, 1
    project = ProjectFactory()
    token = schedule.claim(project.id)
    assert token is not None
    with schedule.heartbeat(lambda: schedule.keep_claim(project.id)):
        time.sleep(2.5)  # a task longer than the stale time
        assert schedule.claim(project.id) is None  # still live: nobody takes it over
        assert schedule.round_in_flight(project.id)
    time.sleep(1.3)  # the task died (no more beats): stale after the stale time
    assert not schedule.round_in_flight(project.id)
    assert schedule.claim(project.id) not in (None, token)
