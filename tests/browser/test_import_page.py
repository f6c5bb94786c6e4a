"""Importing in the browser, in real headless Chromium: a new project leads to the upload
step; a file with errors shows each line and field and imports nothing; a good file imports;
a background job's progress bar runs to its end in a real worker."""

import json

import pytest

from annotation.models import Item
from tests.browser.helpers import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MANY = 300_000  # rows of the background job: its rows are checked over several polls (250 ms)


def test_new_project_then_upload_a_bad_file_a_good_one_and_a_background_job(
    browser_page, page_problems, live_server, celery_worker, tmp_path, screenshot
):
    user = UserFactory(username="importer")
    page = browser_page
    log_in(page, live_server.url, user.username)

    page.goto(f"{live_server.url}/projects/new/")
    page.fill("input[name=name]", "Uploads")
    page.fill("textarea[name=labels]", "pos\nneg")
    screenshot("new-project")
    page.click("main button[type=submit]")
    page.wait_for_url("**/import/")
    project_id = int(page.url.rstrip("/").split("/")[-2])

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": 42}\n{"text": "ok", "labels": ["nope"]}\n')
    page.set_input_files("#file", str(bad))
    page.click("#start")
    page.wait_for_selector("#errors:not([hidden])")
    rows = [row.split("\t") for row in page.locator("#errors tbody tr").all_inner_texts()]
    assert [(line, field) for line, field, _ in rows] == [("2", "text"), ("3", "labels")]
    assert "nothing was imported" in page.locator("#result").inner_text()
    assert Item.objects.filter(project_id=project_id).count() == 0
    screenshot("import-errors")

    good = tmp_path / "good.csv"
    good.write_text("text,labels\nfirst,pos\nsecond,\nthird,neg\n")
    page.set_input_files("#file", str(good))
    page.click("#start")
    page.wait_for_function("() => document.getElementById('result').textContent.includes('new')")
    assert page.locator("#result").inner_text() == "3 rows: 3 new items; 2 answers recorded."
    assert page.locator("#errors").is_hidden()

    many = tmp_path / "many.jsonl"
    many.write_text("\n".join(json.dumps({"text": f"row {n}"}) for n in range(MANY)))
    page.set_input_files("#file", str(many))
    page.check("#background")
    page.click("#start")
    # the bar moves: seen part done while the job runs
    page.wait_for_function(
        "() => { const bar = document.getElementById('progress');"
        " return bar.value > 0 && bar.value < bar.max; }",
        timeout=60_000,
    )
    assert " of " in page.locator("#progress-text").inner_text()  # "checking rows: 5,000 of..."
    screenshot("import-progress")
    page.wait_for_function(
        "() => document.getElementById('result').textContent.includes('new')", timeout=90_000
    )
    assert page.locator("#result").inner_text() == f"{MANY:,} rows: {MANY:,} new items."
    assert page.locator("#progress").evaluate("bar => bar.value === bar.max")
    assert page.locator("#progress-text").inner_text().startswith("succeeded")
    assert Item.objects.filter(project_id=project_id).count() == MANY + 3
    screenshot("import-done")
    # the bad file's 400 is the one failed request Chromium reports; nothing else went wrong
    assert [p for p in page_problems if "status of 400" not in p] == []
    assert len(page_problems) == 1


def test_re_upload_with_skip_chosen_by_keyboard_says_what_happened(
    browser_page, page_problems, live_server, admin, project, tmp_path, screenshot
):
    """A file imported once, then again with a new row: "refuse" lists each row already
    there; "skip", chosen with the keyboard, imports the new row and says so."""
    page = browser_page
    log_in(page, live_server.url, admin.username)
    page.goto(f"{live_server.url}/projects/{project.id}/import/")
    first = tmp_path / "first.jsonl"
    first.write_text('{"external_id": "a", "text": "one"}\n{"external_id": "b", "text": "two"}\n')
    page.set_input_files("#file", str(first))
    page.click("#start")
    page.wait_for_function("() => document.getElementById('result').textContent.includes('new')")

    again = tmp_path / "again.jsonl"
    again.write_text(first.read_text() + '{"external_id": "c", "text": "three"}\n')
    page.set_input_files("#file", str(again))
    page.click("#start")
    page.wait_for_selector("#errors:not([hidden])")
    assert "2 rows of the file are already in this project" in page.locator("#result").inner_text()

    page.focus("input[name=on_duplicate][value=reject]")
    page.keyboard.press("ArrowDown")  # a radio group: the arrow keys move the choice
    assert page.locator("input[name=on_duplicate][value=skip]").is_checked()
    page.click("#start")
    page.wait_for_function(
        "() => document.getElementById('result').textContent.includes('skipped')"
    )
    assert page.locator("#result").inner_text() == (
        "3 rows: 1 new item, 2 already present (skipped)."
    )
    assert page.locator("#errors").is_hidden()
    assert sorted(Item.objects.filter(project=project).values_list("external_id", flat=True)) == [
        "a",
        "b",
        "c",
    ]
    screenshot("import-skip")
    assert [p for p in page_problems if "status of 400" not in p] == []
