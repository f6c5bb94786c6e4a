"""What the dashboard reads beyond the curve: the headline, the team's pace and active time,
the cost at an hourly rate, the estimate to the stopping rule, the worker's last sweep, and what
an annotator may see of it."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import pace
from annotation.models import Annotation, Membership
from models_service import learning, schedule, tasks
from models_service.models import WorkerSeen
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = pytest.mark.django_db


def _answers_at(project, who, minutes: list[float], lead_ms: int | None = 4000) -> None:
    """One answer of `who` per item, given `minutes` after 09:00 today (UTC, the site's zone)."""
    nine = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
    for minute in minutes:
        made = answer(ItemFactory(project=project), who, ["pos"], lead_time_ms=lead_ms)
        Annotation.objects.filter(id=made.id).update(created_at=nine + timedelta(minutes=minute))


@pytest.fixture
def team():
    project = ProjectFactory(labels=["pos", "neg"])
    ann, bea = UserFactory(username="ann"), UserFactory(username="bea")
    for who in (ann, bea):
        MembershipFactory(project=project, user=who, role=Membership.Role.ANNOTATOR)
    return project, ann, bea


def test_active_time_counts_gaps_within_a_session_and_a_lead_time_after_a_break(team):
    project, ann, bea = team
    # ann: 0, 1, 2 minutes (4 s + 60 s + 60 s), then a break of an hour, then 62.5 (4 s)
    _answers_at(project, ann, [0, 1, 2, 62.5])
    _answers_at(project, bea, [10, 10.5], lead_ms=None)  # 0 s + 30 s
    now = timezone.now().replace(hour=12)
    measured = pace.team_pace(project, now)
    hours = {person.username: person.active_hours for person in measured.today}
    assert hours == {"ann": round(128 / 3600, 3), "bea": round(30 / 3600, 3)}
    assert [person.username for person in measured.today] == ["ann", "bea"]  # busiest first
    assert measured.answers_today == 6 and measured.answers == 6
    # 6 answers from 09:00 to 10:02:30
    assert measured.answers_per_hour == pytest.approx(6 * 3600 / (62.5 * 60))


def test_yesterdays_answers_count_for_cost_but_not_for_today(team):
    project, ann, _ = team
    _answers_at(project, ann, [0, 1])
    tomorrow = timezone.now().replace(hour=12) + timedelta(days=1)
    measured = pace.team_pace(project, tomorrow)
    assert measured.today == [] and measured.answers_today == 0
    assert measured.answers_per_hour is None
    assert measured.active_hours == round(64 / 3600, 3)


def test_cost_is_the_hourly_rate_times_active_time_and_per_labelled_item():
    measured = pace.Pace(
        today=[], answers_today=0, answers_per_hour=None, answers=300, active_hours=2.5
    )
    figures = pace.cost(Decimal("20.00"), measured, labelled=100, to_go=50)
    assert figures == {"hourly": 20.0, "so_far": 50.0, "per_label": 0.5, "to_go": 25.0}
    assert pace.cost(None, measured, labelled=100, to_go=50) is None
    # 3 answers per labelled item at 60 answers an hour: 50 more labelled items take 2.5 hours
    busy = pace.Pace(today=[], answers_today=60, answers_per_hour=60.0, answers=300, active_hours=1)
    assert pace.hours_to_go(busy, labelled=100, to_go=50) == 2.5


@pytest.mark.parametrize(
    ("facts", "words"),
    [
        ({"items": 0}, "Import items to start"),
        ({"serving": False, "labelled": 3}, "the first model trains after 10 labels (3 so far)"),
        ({"serving": False, "failure": "no terms"}, "No model yet: no terms"),
        ({"stop": True, "reason": "stable for 3 rounds"}, "You can stop labelling: stable"),
        ({"changed": 0.2}, "changing its mind on 1 in 5 items"),
        ({"changed": 0.0, "reason": "stable for 1 of 3 rounds"}, "Keep labelling: stable for 1"),
    ],
)
def test_the_headline_says_what_to_do_first(facts, words):
    given = {
        "items": 100,
        "labelled": 40,
        "serving": True,
        "stop": False,
        "reason": "",
        "changed": None,
        "failure": None,
    } | facts
    assert words in learning.headline(**given)


def test_the_sweep_says_the_worker_is_alive_and_an_old_sweep_reads_as_stale(settings, monkeypatch):
    monkeypatch.setattr(tasks.train_project, "delay", lambda project_id: None)
    assert schedule.workers() == {"seen_at": None, "stale": False, "seconds_ago": None}
    tasks.sweep()
    assert schedule.workers()["stale"] is False
    WorkerSeen.objects.update(seen_at=timezone.now() - timedelta(seconds=600))
    settings.HITL_WORKER_STALE_SECONDS = 60
    seen = schedule.workers()
    assert seen["stale"] is True and seen["seconds_ago"] >= 600


def test_annotators_see_only_their_own_pace_and_no_cost(team):
    project, ann, bea = team
    project.hourly_cost = Decimal("30")
    project.save()
    boss = UserFactory(username="boss")
    MembershipFactory(project=project, user=boss, role=Membership.Role.ADMIN)
    _answers_at(project, ann, [0, 1])
    _answers_at(project, bea, [0, 1])
    client = APIClient()
    url = f"/api/v1/projects/{project.id}/learning/"
    client.force_authenticate(ann)
    own = client.get(url).json()
    assert [person["username"] for person in own["pace"]["today"]] == ["ann"]
    assert own["cost"] is None
    client.force_authenticate(boss)
    full = client.get(url).json()
    assert sorted(person["username"] for person in full["pace"]["today"]) == ["ann", "bea"]
    assert full["cost"]["hourly"] == 30.0 and full["cost"]["so_far"] > 0
    assert full["headline"].startswith("Keep labelling: the first model trains")


def test_an_admin_sets_the_hourly_cost_through_the_api_and_the_audit_log_keeps_it(team):
    project, _, _ = team
    boss = UserFactory(username="boss")
    MembershipFactory(project=project, user=boss, role=Membership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(boss)
    url = f"/api/v1/projects/{project.id}/"
    answered = client.patch(url, {"hourly_cost": "18.50"}, format="json")
    assert answered.status_code == 200, answered.content
    assert answered.json()["hourly_cost"] == "18.50"
    project.refresh_from_db()
    assert project.hourly_cost == Decimal("18.50")
    refused = client.patch(url, {"hourly_cost": "-1"}, format="json")
    assert refused.status_code == 400 and "hourly_cost" in refused.json()["errors"][0]["field"]
    log = client.get(f"{url}audit/").json()["results"]
    assert any("hourly_cost" in str(entry) for entry in log)


def test_the_figures_that_read_every_answer_are_kept_a_while(team, settings):
    from django.core.cache import cache

    project, ann, _ = team
    settings.HITL_DASHBOARD_CACHE_SECONDS = 30
    cache.clear()
    _answers_at(project, ann, [0, 1])
    first = learning.state(project)
    assert first["pace"]["answers_today"] == 2 and first["label_distribution"]["pos"] == 2
    _answers_at(project, ann, [2])
    kept = learning.state(project)  # the figures of 30 s ago at most
    assert kept["pace"]["answers_today"] == 2 and kept["label_distribution"]["pos"] == 2
    assert kept["labelled"] == 3  # an indexed count: always fresh
    cache.clear()
    assert learning.state(project)["pace"]["answers_today"] == 3
    cache.clear()


def test_an_admin_sets_and_clears_the_hourly_cost_on_the_settings_page(client, team):
    project, _, _ = team
    boss = UserFactory(username="boss")
    MembershipFactory(project=project, user=boss, role=Membership.Role.ADMIN)
    client.force_login(boss)
    url = f"/projects/{project.id}/settings/"
    form = {
        "action": "settings",
        "name": project.name,
        "task_type": "single_label",
        "overlap": 1,
        "labels": "pos\nneg",
    }
    assert 'name="hourly_cost"' in client.get(url).content.decode()
    assert client.post(url, form | {"hourly_cost": "12.5"}).status_code == 302
    project.refresh_from_db()
    assert project.hourly_cost == Decimal("12.50")
    assert 'value="12.50"' in client.get(url).content.decode()  # shown as saved
    refused = client.post(url, form | {"hourly_cost": "-3"})
    assert refused.status_code == 400
    assert client.post(url, form | {"hourly_cost": ""}).status_code == 302
    project.refresh_from_db()
    assert project.hourly_cost is None
