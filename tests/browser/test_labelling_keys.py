"""The labelling page by keyboard beyond labels: suggestions taken or changed, flags, skips
with a reason, a label found by typing, and the history of one's answers, from which an old
answer is changed; in real headless Chromium, with the database checked after."""

import pytest

from annotation.models import Annotation, Item, Lease, Membership
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, serve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LABELS = ["pos", "neg", "neutral"]


def _project(labels=LABELS, texts=6, **fields):
    project = ProjectFactory(name="Keys", labels=labels, eval_share=0.0, **fields)
    Item.objects.bulk_create(
        Item(project=project, data={"text": f"text {n}"}, random_key=n) for n in range(texts)
    )
    user = UserFactory(username="key-user")
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return project, user


def _open(page, live_server, project, user) -> None:
    log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")
    page.wait_for_function("() => document.getElementById('item-text').dataset.itemId")


def _shown(page) -> int:
    return int(page.locator("#item-text").get_attribute("data-item-id"))


def _next_after(page, item_id: int) -> int:
    """Wait for another item than `item_id` on screen; its id."""
    page.wait_for_function(
        f"() => document.getElementById('item-text').dataset.itemId !== '{item_id}'"
    )
    return _shown(page)


def _back_to(page, item_id: int) -> None:
    page.wait_for_function(
        f"() => document.getElementById('item-text').dataset.itemId === '{item_id}'"
    )


def _labels(answer: Annotation) -> list[str]:
    return sorted(answer.labels.values_list("name", flat=True))


def _history(page) -> list[str]:
    return [text.strip() for text in page.locator("#my-answers .answer").all_inner_texts()]


def test_twenty_items_by_keyboard_taking_the_suggestion_or_changing_it(
    browser_page, page_problems, live_server
):
    project, user = _project(texts=24)
    items = list(Item.objects.filter(project=project).order_by("id"))
    serve(project, {item: ([LABELS[n % 3]], 0.5 + n / 100) for n, item in enumerate(items)})
    page = browser_page
    _open(page, live_server, project, user)
    keys = {label.name: label.shortcut for label in project.labels.all()}
    expected = {}
    item_id = 0
    for n in range(20):
        item_id = _next_after(page, item_id)
        page.wait_for_selector(".label-button.suggested")
        suggested = page.locator(".label-button.suggested").get_attribute("data-label")
        if n % 4 == 3:  # one in four: another label than the model's
            other = next(name for name in LABELS if name != suggested)
            page.keyboard.press(keys[other])
            expected[item_id] = ([other], False)
        else:
            expected[item_id] = ([suggested], True)
        page.keyboard.press("Enter")
    _next_after(page, item_id)

    answers = Annotation.objects.filter(annotator=user)
    got = {a.item_id: (_labels(a), a.prediction_accepted) for a in answers}
    assert got == expected
    assert all(a.prediction_shown for a in answers)
    assert len(_history(page)) == 20
    assert page_problems == []


def test_an_old_answer_changed_from_the_history_survives_a_reload_and_the_held_item_waits(
    browser_page, page_problems, live_server, screenshot
):
    project, user = _project()
    page = browser_page
    _open(page, live_server, project, user)
    first = _shown(page)
    for key in ["1", "2", "1"]:  # three answers: pos, neg, pos
        shown = _shown(page)
        page.keyboard.press(key)
        page.keyboard.press("Enter")
        _next_after(page, shown)
    held = _shown(page)
    page.wait_for_function("() => document.querySelectorAll('#my-answers li').length === 3")
    assert _history(page) == ["pos", "neg", "pos"]

    # Esc from an opened answer: back to the held item, nothing changed
    page.click("#my-answers li:last-child button")
    _next_after(page, held)
    page.keyboard.press("Escape")
    _back_to(page, held)

    # the oldest answer, opened from the history: its label is on, a key and Enter change it
    page.click("#my-answers li:last-child button")
    assert _next_after(page, held) == first
    assert page.locator("#editing").is_visible()
    screenshot("changing")
    pressed = page.locator(".label-button[aria-pressed=true]").get_attribute("data-label")
    assert pressed == "pos"
    page.keyboard.press("3")
    page.keyboard.press("m")
    page.keyboard.press("Enter")
    _back_to(page, held)
    assert page.locator("#editing").is_hidden()
    assert _history(page)[-1] == "neutral · ambiguous"

    changed = Annotation.objects.get(annotator=user, item_id=first)
    assert (_labels(changed), changed.ambiguous) == (["neutral"], True)
    assert Annotation.objects.filter(annotator=user).count() == 3
    assert Lease.objects.filter(user=user, item_id=held).exists()  # still theirs

    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#my-answers li').length === 3")
    assert _history(page) == ["pos", "neg", "neutral · ambiguous"]
    _back_to(page, held)
    assert page_problems == []


def test_typing_finds_one_of_twelve_labels_and_digits_still_pick_the_first_nine(
    browser_page, page_problems, live_server, screenshot
):
    names = [
        "apple", "banana", "cherry", "date", "elderberry", "fig",
        "grape", "honeydew", "kiwi", "lemon", "lime", "mango",
    ]  # fmt: skip
    project, user = _project(labels=names, texts=3)
    page = browser_page
    _open(page, live_server, project, user)
    assert page.locator("#label-filter").is_visible()  # more labels than digit keys
    first = _shown(page)

    page.keyboard.press("/")
    page.keyboard.type("l")  # lemon, lime first (they start with it), then apple, elderberry
    visible = page.locator(".label-button:visible").evaluate_all(
        "buttons => buttons.sort((a, b) => getComputedStyle(a).order - getComputedStyle(b).order)"
        ".map(b => b.dataset.label)"
    )
    assert visible == ["lemon", "lime", "apple", "elderberry"]
    assert page.locator(".label-button.highlighted").get_attribute("data-label") == "lemon"
    screenshot("find")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # picks lime, leaves the box
    assert page.locator(".label-button:visible").count() == 12
    page.keyboard.press("Enter")  # submits
    second = _next_after(page, first)
    assert _labels(Annotation.objects.get(item_id=first)) == ["lime"]

    page.keyboard.press("/")
    page.keyboard.type("mang")
    page.keyboard.press("Enter")
    page.keyboard.press("9")  # a digit after the search: the ninth label instead
    page.keyboard.press("Enter")
    _next_after(page, second)
    assert _labels(Annotation.objects.get(item_id=second)) == ["kiwi"]
    assert page_problems == []


def test_flag_keys_toggle_and_skips_say_why(browser_page, page_problems, live_server, screenshot):
    project, user = _project(texts=6)
    page = browser_page
    _open(page, live_server, project, user)
    ambiguous, expert = page.locator("#flag-ambiguous"), page.locator("#flag-needs-expert")
    # M and E toggle the flags of the answer on screen, shown pressed
    item = _shown(page)
    for key in ["1", "m", "e", "e"]:
        page.keyboard.press(key)
    assert ambiguous.get_attribute("aria-pressed") == "true"
    assert expert.get_attribute("aria-pressed") == "false"
    page.keyboard.press("Enter")
    item = _next_after(page, item)
    assert ambiguous.get_attribute("aria-pressed") == "false"  # a new item starts clear

    # X then 3: skipped as broken; the digit does not pick a label
    page.keyboard.press("x")
    assert page.locator("#skip-reasons").is_visible()
    screenshot("reasons")
    page.keyboard.press("3")
    item = _next_after(page, item)
    # X then 4 ("other") with nothing said: the comment box waits, Enter there skips
    page.keyboard.press("x")
    page.keyboard.press("4")
    page.wait_for_function("() => document.activeElement.id === 'comment'")
    page.keyboard.type("a recipe, not a review")
    page.keyboard.press("Enter")
    item = _next_after(page, item)
    # X then Esc: nothing skipped
    page.keyboard.press("x")
    page.keyboard.press("Escape")
    assert page.locator("#skip-reasons").is_hidden()
    assert _shown(page) == item

    answers = list(Annotation.objects.filter(annotator=user).order_by("id"))
    assert [(a.skipped, a.skip_reason, a.ambiguous, a.needs_expert) for a in answers] == [
        (False, "", True, False),
        (True, "broken", False, False),
        (True, "other", False, False),
    ]
    assert answers[2].comment == "a recipe, not a review"
    assert _history(page) == ["skipped: other", "skipped: broken", "pos · ambiguous"]
    assert page_problems == []
