"""The annotation page in real headless Chromium: log in, label with the keyboard, skip,
undo, and the database agrees."""

import math

import pytest

from annotation.models import Annotation, Item, Membership
from tests.browser.helpers import log_in as _log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"


@pytest.fixture
def labelling_project():
    project = ProjectFactory(name="Browser test", labels=["pos", "neg", "neutral"])
    Item.objects.bulk_create(
        Item(project=project, data={"text": text}, random_key=key)
        for key, text in enumerate(
            [HOSTILE, "second text", "third text", "fourth text", "fifth text", "sixth text"]
        )
    )
    user = UserFactory(username="keyboard-user")
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return project, user


def _wait_for_text(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('item-text').textContent === t", arg=text)


def _answers(user) -> list[tuple]:
    rows = Annotation.objects.filter(annotator=user).order_by("id")
    return [
        (a.item.data["text"], sorted(a.labels.values_list("name", flat=True)), a.skipped)
        for a in rows
    ]


def test_label_three_with_the_keyboard_skip_one_undo_one(
    browser_page, live_server, labelling_project, screenshot
):
    project, user = labelling_project
    page = browser_page
    _log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")

    # Items come in random_key order: the hostile text first, shown as text, not as markup.
    _wait_for_text(page, HOSTILE)
    assert page.locator("#item-text img").count() == 0
    assert page.title() != "pwned"
    page.wait_for_timeout(300)  # the prefetched next item is on its way; let it land

    page.keyboard.press("1")
    page.keyboard.press("Enter")  # HOSTILE -> pos
    _wait_for_text(page, "second text")
    page.keyboard.press("2")
    page.keyboard.press("Enter")  # second -> neg
    _wait_for_text(page, "third text")
    page.keyboard.press("s")  # third skipped
    _wait_for_text(page, "fourth text")
    page.keyboard.press("3")
    page.keyboard.press("Enter")  # fourth -> neutral
    _wait_for_text(page, "fifth text")
    screenshot("label-page")
    page.keyboard.press("Backspace")  # undo: fourth comes back, its answer deleted
    _wait_for_text(page, "fourth text")
    page.wait_for_function(
        "() => document.getElementById('message').textContent.startsWith('Undone')"
    )

    assert _answers(user) == [
        (HOSTILE, ["pos"], False),
        ("second text", ["neg"], False),
        ("third text", [], True),
    ]
    assert all(
        a.lead_time_ms and a.lead_time_ms > 0 for a in Annotation.objects.filter(annotator=user)
    )
    fourth = Item.objects.get(project=project, data__text="fourth text")
    assert (fourth.status, fourth.annotation_count) == ("open", 0)

    page.keyboard.press("1")  # answer the undone item again, differently
    page.keyboard.press("Enter")
    _wait_for_text(page, "fifth text")
    assert _answers(user)[-1] == ("fourth text", ["pos"], False)


def test_keys_toggle_labels_in_a_multi_label_project(browser_page, live_server):
    project = ProjectFactory(name="Multi", task_type="multi_label", labels=["red", "green", "blue"])
    Item.objects.bulk_create(
        Item(project=project, data={"text": text}, random_key=key)
        for key, text in enumerate(["a colourful text", "another one"])
    )
    user = UserFactory(username="multi-user")
    MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    page = browser_page
    _log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")
    _wait_for_text(page, "a colourful text")

    for key in ["1", "3", "2", "1"]:  # red on, blue on, green on, red off
        page.keyboard.press(key)
    pressed = page.locator(".label-button[aria-pressed=true]").all_inner_texts()
    assert [text.split()[-1] for text in pressed] == ["green", "blue"]
    page.keyboard.press("Enter")
    _wait_for_text(page, "another one")

    assert _answers(user) == [("a colourful text", ["blue", "green"], False)]


def test_the_models_suggestion_comes_preselected_enter_takes_it_a_key_changes_it(
    browser_page, live_server, settings, tmp_path, screenshot
):
    from annotation.models import RankedItem
    from tests.models_service.helpers import label_next, run_round, text_project

    settings.HITL_MODEL_DIR = tmp_path / "models"
    project, user = text_project(200, eval_share=0.0)
    label_next(project, user, 30)
    version = run_round(project.id)
    top = (
        RankedItem.objects.filter(ranking_id=version.id, item__status="open")
        .order_by("-score")
        .first()
    )
    button_order = {label.name: label.order for label in project.labels.all()}
    page = browser_page
    _log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")
    page.wait_for_function("() => !document.getElementById('suggestion').hidden")
    suggestion = page.locator("#suggestion").inner_text()
    assert suggestion.startswith(f"Model suggests: {top.predicted[0]} (")
    # pre-selected and marked: Enter alone takes it
    pressed = page.locator(".label-button[aria-pressed=true]").all_inner_texts()
    assert [text.split()[-1] for text in pressed] == top.predicted
    assert page.locator(".label-button.suggested").count() == 1
    # six labels: the model's next two likeliest are marked as the alternatives, each with its
    # percent on its button and in the sentence; only the first is selected
    assert len(top.top) == 3 and top.top[0][0] == top.predicted[0]
    # as the page rounds (Math.round: halves up; Python's round takes halves to even)
    percents = [f"{math.floor(100 * p + 0.5)}%" for _, p in top.top]
    alternatives = page.locator(".label-button.alternative")
    assert [text.split()[-1] for text in alternatives.all_inner_texts()] == [
        name for name, _ in sorted(top.top[1:], key=lambda pair: button_order[pair[0]])
    ]
    assert {alternatives.nth(n).get_attribute("data-probability") for n in range(2)} == set(
        percents[1:]
    )
    assert page.locator(".label-button.suggested").get_attribute("data-probability") == percents[0]
    assert f"; else {top.top[1][0]} {percents[1]}, {top.top[2][0]} {percents[2]}:" in suggestion
    assert page.locator(".label-button.alternative[aria-pressed=true]").count() == 0
    screenshot("alternatives")
    # the item's other fields are shown beside its text, and its id
    assert page.locator("#item-fields dt").all_inner_texts() == ["label"]
    assert page.locator("#item-id").inner_text().startswith(f"item {top.item_id} · ")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('message').textContent === 'Saved.'")
    answer = Annotation.objects.get(annotator=user, item_id=top.item_id)
    assert (answer.prediction_shown, answer.prediction_accepted) == (True, True)
    assert list(answer.labels.values_list("name", flat=True)) == top.predicted

    # the next item: a label key changes the suggestion; Enter in the comment box submits
    page.wait_for_function(
        f"() => document.getElementById('item-text').dataset.itemId !== '{top.item_id}'"
    )
    second = int(page.locator("#item-text").get_attribute("data-item-id"))
    suggested = page.locator(".label-button.suggested").inner_text().split()[-1]
    other = next(label for label in project.labels.all() if label.name != suggested)
    page.keyboard.press(other.shortcut)
    page.fill("#comment", "not what the model thinks")
    page.press("#comment", "Enter")
    page.wait_for_function(
        f"() => document.getElementById('item-text').dataset.itemId !== '{second}'"
    )
    changed = Annotation.objects.get(annotator=user, item_id=second)
    assert (changed.prediction_shown, changed.prediction_accepted) == (True, False)
    assert list(changed.labels.values_list("name", flat=True)) == [other.name]
    assert changed.comment == "not what the model thinks"


def test_a_reload_shows_the_same_item_and_leases_nothing_new(
    browser_page, live_server, labelling_project
):
    from annotation.models import Lease

    project, user = labelling_project
    page = browser_page
    _log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")
    _wait_for_text(page, HOSTILE)
    page.wait_for_timeout(300)  # the item fetched ahead lands
    held = set(Lease.objects.filter(user=user).values_list("item_id", flat=True))
    assert len(held) == 2
    for _ in range(3):
        page.reload()
        _wait_for_text(page, HOSTILE)
        page.wait_for_timeout(300)
    assert set(Lease.objects.filter(user=user).values_list("item_id", flat=True)) == held


def test_an_empty_project_says_what_to_do_and_disables_the_buttons(browser_page, live_server):
    project = ProjectFactory(name="Empty", labels=["pos", "neg"])
    user = UserFactory(username="early-admin")
    MembershipFactory(project=project, user=user, role=Membership.Role.ADMIN)
    page = browser_page
    _log_in(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/projects/{project.id}/label/")
    _wait_for_text(page, "Nothing to label yet.")
    assert page.locator("#empty-project").is_visible()
    assert page.locator("#empty-project a").get_attribute("href") == (
        f"/projects/{project.id}/import/"
    )
    assert page.locator("#submit").is_disabled() and page.locator("#skip").is_disabled()
    assert page.locator(".label-button:disabled").count() == 2
