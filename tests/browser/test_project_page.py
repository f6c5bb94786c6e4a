"""The project page in real headless Chromium: find items with search and two filters, keep
them in the URL, page through, open an item, export what was found."""

import json

import pytest

from annotation.models import Item, Membership
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team_project():
    project = ProjectFactory(name="Reviews", labels=["pos", "neg"])
    reviewer = UserFactory(username="rita")
    annotator = UserFactory(username="ann")
    MembershipFactory(project=project, user=reviewer, role=Membership.Role.REVIEWER)
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    items = Item.objects.bulk_create(
        Item(project=project, data={"text": f"review {n}: battery " + ("good" if n % 3 else "bad")})
        for n in range(120)
    )
    for item in items[:60:3]:  # "bad" reviews, answered neg
        answer(item, annotator, ["neg"])
    return project, reviewer, items


def test_find_items_with_search_and_two_filters_page_open_one_and_export(
    browser_page, page_problems, live_server, team_project, screenshot
):
    project, reviewer, items = team_project
    page = browser_page
    log_in(page, live_server.url, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.id}/")
    assert page.locator("#items tbody tr").count() == 50  # a page of 50 of 120

    page.fill("input[name=search]", "bad")
    page.select_option("select[name=status]", "done")
    page.select_option("select[name=label]", "neg")
    page.keyboard.press("Enter")
    page.wait_for_url("**search=bad**")
    assert "status=done" in page.url and "label=neg" in page.url
    rows = page.locator("#items tbody tr")
    assert rows.count() == 20
    assert page.locator("#next-page").count() == 0
    screenshot("filtered")

    # the URL is shareable: opened afresh, it shows the same rows
    page.goto(page.url)
    assert page.locator("#items tbody tr").count() == 20

    # export what was found, with the same filters
    with page.expect_download() as download:
        page.click("#export-jsonl")
    lines = download.value.path().read_bytes().splitlines()
    exported = [json.loads(line) for line in lines]
    assert len(exported) == 20
    assert all(row["labels"] == ["neg"] and "bad" in row["data"]["text"] for row in exported)

    # page through everything, forward then back
    page.goto(f"{live_server.url}/projects/{project.id}/")
    page.click("#next-page")
    first_on_second = page.locator("#items tbody tr td a").first.inner_text()
    assert int(first_on_second) == items[50].id
    page.click("#previous-page")
    assert int(page.locator("#items tbody tr td a").first.inner_text()) == items[0].id

    # open an item: its whole data and its answers
    page.click(f"a[href='/projects/{project.id}/items/{items[0].id}/']")
    page.wait_for_url(f"**/items/{items[0].id}/")
    assert "review 0: battery bad" in page.locator(".fields").inner_text()
    assert page.locator("#answers tbody tr").first.inner_text().startswith("ann")
    assert page.locator("#agreed").inner_text() == "neg"

    # relabel it, by keyboard: the reviewer's verdict becomes its labels, and its history
    page.focus("#relabel input[value=pos]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("not a complaint after all")
    page.keyboard.press("Enter")
    page.wait_for_selector(".flash")
    assert page.locator("#agreed").inner_text() == "pos"
    history = page.locator("#history").inner_text()
    assert "rita relabelled neg → pos: not a complaint after all" in history
    screenshot("item")
    assert page_problems == []


def test_the_column_chooser_hides_columns_and_remembers_them(
    browser_page, page_problems, live_server, team_project, screenshot
):
    project, reviewer, _ = team_project
    page = browser_page
    log_in(page, live_server.url, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.id}/")
    annotators = page.locator("#items th[data-column=annotators]")
    assert annotators.is_visible()
    page.click("#column-chooser summary")
    page.uncheck("#column-chooser input[data-column=annotators]")
    assert annotators.is_hidden()
    assert page.locator("#items td[data-column=annotators]").first.is_hidden()
    page.click("#next-page")  # another page, same columns
    assert page.locator("#items th[data-column=annotators]").is_hidden()
    assert page.locator("#items th[data-column=predicted]").is_visible()
    screenshot("columns")
    assert page_problems == []
