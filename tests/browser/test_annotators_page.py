"""The annotators page in real headless Chromium: a reviewer follows the project page's link
and sees the table, the scatter plot with every annotator's name, a trend per annotator and,
in words, the one whose labels lean one way, and each one's Dawid-Skene confusion matrix; no
CSP violation or console error."""

from datetime import UTC, datetime, timedelta

import pytest

from annotation import judging, selectors
from annotation.models import Annotation, Item
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _world():
    """30 items of overlap 3: ann and bob give each its true label, cat always neg; the
    project's Dawid-Skene fit made."""
    project = ProjectFactory(name="Crowd", labels=["pos", "neg"], overlap=3)
    people = [UserFactory(username=name) for name in ("ann", "bob", "cat")]
    for person in people:
        MembershipFactory(project=project, user=person, role="annotator")
    reviewer = UserFactory(username="rev")
    MembershipFactory(project=project, user=reviewer, role="reviewer")
    for n in range(30):
        item = Item.objects.create(project=project, data={"text": f"text {n}"})
        truth = "pos" if n % 2 else "neg"
        for seat, (person, label) in enumerate(zip(people, (truth, truth, "neg"), strict=True)):
            given = answer(item, person, [label], lead_time_ms=20_000)
            at = START + timedelta(seconds=40 * n + seat)
            Annotation.objects.filter(id=given.id).update(created_at=at)
    project.consensus = "dawid_skene"
    project.save()
    judging.refit(project, selectors.multiply_answered(project))
    return project, reviewer


def test_the_annotators_page_shows_the_table_the_named_scatter_and_the_trends(
    browser_page, page_problems, live_server, screenshot
):
    project, reviewer = _world()
    page = browser_page
    log_in(page, live_server.url, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.id}/")
    page.click("#annotators-link")
    page.wait_for_url(f"{live_server.url}/projects/{project.id}/annotators/")
    rows = page.locator("#annotators tbody tr")
    assert [rows.nth(n).get_attribute("data-annotator") for n in range(3)] == ["ann", "bob", "cat"]
    assert page.locator("#scatter .dot").count() == 3
    assert page.locator("#scatter .dot text").all_text_contents() == ["ann", "bob", "cat"]
    assert page.locator("#trends svg.trend").count() == 3
    warnings = page.locator("#warnings").inner_text()
    assert "cat answers neg 2.0 times as often as the rest of the team" in warnings
    assert "ann" not in warnings and "bob" not in warnings
    assert page.locator("#no-warnings").count() == 0
    matrices = page.locator("#confusion table.confusion")
    assert [matrices.nth(n).get_attribute("data-annotator") for n in range(3)] == [
        "ann",
        "bob",
        "cat",
    ]
    # cat answers neg whatever the truth: her row for a true pos is all in the neg column
    cat_pos = page.locator('#confusion table[data-annotator="cat"] tbody tr').first
    assert cat_pos.locator("th").inner_text() == "pos"
    assert cat_pos.locator("td").all_inner_texts() == ["0%", "100%"]
    # agreement, filled in from GET agreement/: ann and bob always agree; cat agrees with
    # them on the neg half only
    page.wait_for_selector("#agreement-pairs tbody tr")
    assert page.locator('#agreement-pairs tr[data-pair="ann bob"] td').all_inner_texts() == [
        "30",
        "1.00",
        "100%",
    ]
    assert page.locator('#agreement-pairs tr[data-pair="ann cat"] td').nth(1).inner_text() == "0.00"
    assert "Krippendorff's alpha" in page.locator("#agreement-words").inner_text()
    screenshot("annotators-page")
    assert page_problems == []
