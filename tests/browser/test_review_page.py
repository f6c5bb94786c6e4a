"""The review flow end to end, keyboard only, in real headless Chromium: a reviewer opens the
review page, sees why an item is up, picks the final label by digit, Enter; the next item
comes; the verdicts are in the items' history and the export."""

import json

import pytest
from rest_framework.test import APIClient

from annotation.models import Item, Membership, Review
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer, serve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    """Three items two annotators answered: two ties and one they agree on but flagged."""
    project = ProjectFactory(name="Review", labels=["pos", "neg", "neutral"], overlap=2)
    people = []
    for name, role in (("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer")):
        people.append(UserFactory(username=name))
        MembershipFactory(project=project, user=people[-1], role=role)
    items = [Item.objects.create(project=project, data={"text": f"text {n}"}) for n in range(3)]
    for item, (first, second) in zip(
        items, (("pos", "neg"), ("neg", "neutral"), ("pos", "pos")), strict=True
    ):
        answer(item, people[0], [first], comment="hmm" if first == second else "")
        answer(item, people[1], [second], ambiguous=first == second)
    top = [["neg", 0.6], ["pos", 0.3], ["neutral", 0.1]]
    serve(project, {items[0]: (["neg"], 0.6)}, top={items[0]: top})
    return project, items, people[2]


def _shown(page) -> str | None:
    return page.locator("#item-text").get_attribute("data-item-id")


def _wait_for(page, item_id) -> None:
    page.wait_for_function(
        f"() => document.getElementById('item-text').dataset.itemId === '{item_id}'"
    )


def test_the_review_flow_end_to_end_keyboard_only(
    browser_page, page_problems, live_server, screenshot
):
    project, (tie, other_tie, flagged), reviewer = _world()
    page = browser_page
    log_in(page, live_server.url, reviewer.username)
    page.goto(f"{live_server.url}/projects/{project.id}/")
    assert page.locator("#review-link").is_visible()
    page.goto(f"{live_server.url}/projects/{project.id}/review/")
    _wait_for(page, tie.id)
    assert page.locator("#reasons li").all_inner_texts() == [
        "The answers disagree: a tie (50% each), and no more answers are coming"
    ]
    assert page.locator("#answers tbody tr").count() == 2
    assert page.locator("#consensus").inner_text() == (
        "No consensus (majority): the answers tie, 50% each."
    )
    assert page.locator("#prediction").inner_text() == (
        "The model predicts neg, 60% sure; else pos 30%, neutral 10%."
    )
    screenshot("review-page")

    page.keyboard.press("2")  # neg
    page.keyboard.press("Enter")
    _wait_for(page, other_tie.id)

    page.keyboard.press("c")  # a comment; Esc leaves the box, Enter in it submits
    page.keyboard.type("neutral it is")
    page.keyboard.press("Escape")
    page.keyboard.press("3")  # neutral: out of the box, digits pick labels again
    page.keyboard.press("c")
    page.keyboard.press("Enter")
    _wait_for(page, flagged.id)
    assert "An annotator flagged it: ambiguous" in page.locator("#reasons").inner_text()
    assert page.locator(".label-button.selected").get_attribute("data-label") == "pos"

    page.keyboard.press("n")  # passed on: no verdict, the end of the queue
    page.wait_for_function("() => !document.getElementById('item-text').dataset.itemId")
    assert "Nothing more to review" in page.locator("#item-text").inner_text()
    page.keyboard.press("r")  # from the first again: only the flagged item is left
    _wait_for(page, flagged.id)
    page.keyboard.press("Enter")  # confirm the consensus
    page.wait_for_function("() => !document.getElementById('item-text').dataset.itemId")
    assert "Nothing to review" in page.locator("#item-text").inner_text()

    verdicts = {r.item_id: (r.labels, r.comment) for r in Review.objects.all()}
    assert verdicts == {
        tie.id: (["neg"], ""),
        other_tie.id: (["neutral"], "neutral it is"),
        flagged.id: (["pos"], ""),
    }
    client = APIClient()
    client.force_authenticate(reviewer)
    history = client.get(f"/api/v1/items/{tie.id}/history/").json()
    assert (history[-1]["who"], history[-1]["what"]) == ("rev", "relabelled (none) → neg")
    export = client.get(f"/api/v1/projects/{project.id}/export/?format=jsonl")
    rows = [json.loads(line) for line in b"".join(export.streaming_content).splitlines()]
    assert [(row["id"], row["labels"], row["reviewed_by"]) for row in rows] == [
        (tie.id, ["neg"], "rev"),
        (other_tie.id, ["neutral"], "rev"),
        (flagged.id, ["pos"], "rev"),
    ]
    assert page_problems == []
    assert Membership.objects.get(user=reviewer).role == "reviewer"
