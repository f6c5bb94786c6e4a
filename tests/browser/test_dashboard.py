"""The dashboard in real headless Chromium: the headline in words, the learning curve with
ticks, intervals and only the points whose evaluation sample is large enough, the estimate to
the stopping rule, the pace per annotator today, the cost, and a worker not seen lately."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from annotation.models import Membership
from models_service.models import WorkerSeen
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def learning_project(settings, tmp_path):
    """Two rounds on shipped texts, half the serves evaluation draws, an hourly cost set."""
    from tests.models_service.helpers import label_next, run_round, text_project

    settings.HITL_MODEL_DIR = tmp_path / "models"
    project, annotator = text_project(300, eval_share=0.5, hourly_cost=Decimal("24.00"))
    label_next(project, annotator, 30)
    run_round(project.id)
    label_next(project, annotator, 50)
    run_round(project.id)
    lead = UserFactory(username="team-lead")
    MembershipFactory(project=project, user=lead, role=Membership.Role.ADMIN)
    return project, annotator, lead


def test_the_dashboard_reads_in_words_draws_the_curve_and_shows_pace_and_cost(
    browser_page, live_server, learning_project, screenshot
):
    project, annotator, lead = learning_project
    WorkerSeen.objects.create(hostname="celery@here", seen_at=timezone.now())
    page = browser_page
    log_in(page, live_server.url, lead.username)
    page.goto(f"{live_server.url}/projects/{project.id}/dashboard/")
    page.wait_for_function("() => document.querySelectorAll('#versions tbody tr').length === 2")
    headline = page.locator("#headline").inner_text()
    assert headline.startswith("Keep labelling: the model is still changing its mind on 1 in")
    assert page.locator("#worker").is_hidden()
    # v1's evaluation sample holds about 15 items, v2's about 40: only v2's point is drawn;
    # v1 trained on too few labels to cross-validate
    versions = list(project.model_versions.order_by("number"))
    assert [v.metrics["n"] >= 30 for v in versions] == [False, True]
    assert page.locator("#curve circle.evaluated").count() == 1
    assert page.locator("#curve line.interval").count() == 1
    assert page.locator("#curve circle.cv").count() == sum(bool(v.cv_metrics) for v in versions)
    ticks = page.eval_on_selector_all("#curve text", "nodes => nodes.map(n => n.textContent)")
    assert {"0", "0.0", "1.0", "labels", "accuracy"} <= set(ticks)
    assert page.locator("#stopping").inner_text().startswith("Stopping rule: stable for")
    assert page.locator("#estimate").inner_text() != ""
    row = page.locator("#pace tbody tr").first.locator("td").all_inner_texts()
    assert row[:2] == [annotator.username, "80"]
    assert "80 answers today" in page.locator("#pace-line").inner_text()
    assert "24.00 an hour" in page.locator("#cost").inner_text()
    screenshot("dashboard")


def test_a_worker_not_seen_lately_is_shown_as_such(browser_page, live_server, learning_project):
    project, _, lead = learning_project
    WorkerSeen.objects.create(hostname="celery@gone", seen_at=timezone.now() - timedelta(hours=2))
    page = browser_page
    log_in(page, live_server.url, lead.username)
    page.goto(f"{live_server.url}/projects/{project.id}/dashboard/")
    page.wait_for_selector("#worker:not([hidden])")
    words = page.locator("#worker").inner_text()
    assert words.startswith("The worker was last seen 2 h 0 min ago: no round starts")
