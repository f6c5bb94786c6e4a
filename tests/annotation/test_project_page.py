"""The project page's data browser and the item page: filters in the URL, keyset pages,
what each role sees."""

import pytest
from django.test import Client

from annotation import reviews
from annotation.models import Item
from annotation.selectors import ItemFilter, browse
from tests.factories import answer, answered_by_two, serve, skip

pytestmark = pytest.mark.django_db


@pytest.fixture
def items(project, annotator, reviewer):
    made = [
        Item.objects.create(
            project=project, data={"text": f"text {n} " + ("red" if n % 2 else "blue"), "n": n}
        )
        for n in range(7)
    ]
    answer(made[0], annotator, ["pos"])
    answer(made[1], reviewer, ["neg"], comment="unsure", ambiguous=True)
    skip(made[2], annotator)
    return made


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_keyset_pages_walk_forward_and_back_over_every_item(project, items):
    first = browse(project, size=3)
    assert [row["id"] for row in first.items] == [i.id for i in items[:3]]
    assert first.previous_before is None
    second = browse(project, after=first.next_after, size=3)
    assert [row["id"] for row in second.items] == [i.id for i in items[3:6]]
    last = browse(project, after=second.next_after, size=3)
    assert [row["id"] for row in last.items] == [items[6].id]
    assert last.next_after is None
    back = browse(project, before=second.previous_before, size=3)
    assert [row["id"] for row in back.items] == [i.id for i in items[:3]]
    assert back.previous_before is None and back.next_after == items[2].id


def test_a_page_holds_each_items_agreed_labels_and_annotators(project, items, annotator):
    rows = browse(project, ItemFilter(search="red"), size=10).items
    assert [row["id"] for row in rows] == [items[1].id, items[3].id, items[5].id]
    assert rows[0]["labels"] == ["neg"]
    assert [a["annotator"] for a in rows[0]["annotations"]] == ["rita-reviewer"]


def test_a_reviewer_finds_items_with_filters_kept_in_the_url(project, items, reviewer):
    response = _client(reviewer).get(f"/projects/{project.id}/?search=red&label=neg")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="/projects/{project.id}/items/{items[1].id}/"' in page
    assert f'href="/projects/{project.id}/items/{items[3].id}/"' not in page
    # the export link carries the same filters
    assert f"/api/v1/projects/{project.id}/export/?format=csv&amp;search=red&amp;label=neg" in page


def test_an_annotator_sees_only_the_items_they_answered(project, items, annotator):
    page = _client(annotator).get(f"/projects/{project.id}/").content.decode()
    shown = [i.id for i in items if f"/items/{i.id}/" in page]
    assert shown == [items[0].id, items[2].id]
    assert "export/" not in page


@pytest.fixture
def shared_gold_item(project, annotator, admin):
    """An item two annotators answered differently, flagged by the other, then made gold."""
    from annotation import gold

    item, _ = answered_by_two(
        project,
        annotator,
        mine={"labels": ["pos"]},
        theirs={"labels": ["neg"], "needs_expert": True, "comment": "theirs"},
    )
    gold.mark(item=item, labels=["neg"], actor=admin)
    return item


def _cell(page: str, column: str) -> str:
    import re

    return re.search(rf'<td data-column="{column}"[^>]*>(.*?)</td>', page, re.S).group(1)


def test_an_annotator_reads_only_their_own_answer_in_the_browser(
    project, shared_gold_item, annotator, reviewer
):
    page = _client(annotator).get(f"/projects/{project.id}/").content.decode()
    assert _cell(page, "labels").strip() == "pos"  # theirs, not the agreement nor the gold
    assert _cell(page, "annotators").strip() == annotator.username
    assert _cell(page, "flags").strip() == ""  # not the other's flag, not gold
    assert "someone-else" not in page
    # a reviewer reads every answer, the flags and that it is gold
    page = _client(reviewer).get(f"/projects/{project.id}/").content.decode()
    assert "someone-else" in _cell(page, "annotators")
    assert "needs expert" in _cell(page, "flags") and "gold" in _cell(page, "flags")


def test_an_annotator_may_not_filter_by_gold_verdicts_or_hidden_predictions(
    project, shared_gold_item, annotator
):
    client = _client(annotator)
    for flag in ("gold", "reviewed"):
        response = client.get(f"/projects/{project.id}/?flag={flag}")
        assert response.status_code == 400
        assert "flag:" in response.content.decode()
    assert client.get(f"/projects/{project.id}/?flag=ambiguous").status_code == 200
    assert client.get(f"/projects/{project.id}/?predicted=pos").status_code == 200
    project.show_predictions = False
    project.save()
    response = client.get(f"/projects/{project.id}/?predicted=pos")
    assert response.status_code == 400 and "predicted:" in response.content.decode()
    assert 'name="max_confidence"' not in client.get(f"/projects/{project.id}/").content.decode()


def test_an_annotators_item_page_hides_the_agreement_and_the_gold(
    project, shared_gold_item, annotator, reviewer
):
    url = f"/projects/{project.id}/items/{shared_gold_item.id}/"
    page = _client(annotator).get(url).content.decode()
    assert 'id="gold"' not in page and "Agreed labels" not in page
    assert "Your labels: <strong" in page
    assert 'id="gold"' in _client(reviewer).get(url).content.decode()


def test_with_an_annotator_the_label_and_flag_filters_read_that_persons_answers(
    project, shared_gold_item, annotator
):
    def found(**filters) -> bool:
        return bool(browse(project, ItemFilter(**filters)).items)

    assert found(label="neg") and found(annotator="someone-else", label="neg")
    assert not found(annotator=annotator.username, label="neg")
    assert found(annotator="someone-else", flag="needs_expert")
    assert not found(annotator=annotator.username, flag="needs_expert")


def test_a_bad_filter_is_a_400_that_names_it(project, items, reviewer):
    response = _client(reviewer).get(f"/projects/{project.id}/?status=closed")
    assert response.status_code == 400
    assert "status:" in response.content.decode()


def test_an_outsider_gets_a_404(project, items, outsider):
    assert _client(outsider).get(f"/projects/{project.id}/").status_code == 404


def test_the_item_page_shows_every_field_and_every_answer(project, items, reviewer):
    page = _client(reviewer).get(f"/projects/{project.id}/items/{items[1].id}/").content.decode()
    assert "text 1 red" in page and "<dt>n</dt>" in page
    assert "rita-reviewer" in page and "unsure" in page and "ambiguous" in page


def test_an_annotator_may_open_only_an_item_they_answered(project, items, annotator):
    client = _client(annotator)
    assert client.get(f"/projects/{project.id}/items/{items[0].id}/").status_code == 200
    assert client.get(f"/projects/{project.id}/items/{items[1].id}/").status_code == 404


def test_an_item_of_another_project_is_a_404(project, items, reviewer, outsider):
    other = outsider.memberships.get().project
    stranger = Item.objects.create(project=other, data={"text": "elsewhere"})
    response = _client(reviewer).get(f"/projects/{project.id}/items/{stranger.id}/")
    assert response.status_code == 404


def _queries_for(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_browser_page_costs_the_same_queries_for_a_full_page(project, items, reviewer):
    client = _client(reviewer)
    url = f"/projects/{project.id}/?search=red"
    few = _queries_for(client, url)
    more = Item.objects.bulk_create(
        Item(project=project, data={"text": f"more red {n}"}) for n in range(60)
    )
    for item in more[:10]:
        answer(item, reviewer, ["pos"])
    assert _queries_for(client, url) == few


def test_newest_first_pages_walk_down_the_ids_and_back(project, items):
    first = browse(project, newest_first=True, size=3)
    assert [row["id"] for row in first.items] == [i.id for i in reversed(items[4:])]
    second = browse(project, after=first.next_after, newest_first=True, size=3)
    assert [row["id"] for row in second.items] == [i.id for i in reversed(items[1:4])]
    back = browse(project, before=second.previous_before, newest_first=True, size=3)
    assert [row["id"] for row in back.items] == [row["id"] for row in first.items]
    assert back.previous_before is None


def test_a_page_shows_the_serving_models_prediction_and_the_flags(project, items, reviewer):
    serve(project, {items[3]: (["neg"], 0.42)})
    rows = {row["id"]: row for row in browse(project, size=10).items}
    assert (rows[items[3].id]["predicted"], rows[items[3].id]["confidence"]) == (["neg"], 0.42)
    assert rows[items[4].id]["predicted"] is None
    assert rows[items[1].id]["flags"] == ["ambiguous"]
    assert rows[items[2].id]["flags"] == ["skipped"]
    page = _client(reviewer).get(f"/projects/{project.id}/?order=newest&max_confidence=0.5")
    assert page.status_code == 200
    assert f'href="/projects/{project.id}/items/{items[3].id}/"' in page.content.decode()
    assert page.content.decode().count("/items/") == 1  # the one item the model is unsure of


def test_the_export_links_carry_the_filters_but_not_the_order(project, items, reviewer):
    page = _client(reviewer).get(f"/projects/{project.id}/?flag=skipped&order=newest")
    html = page.content.decode()
    assert "export/?format=csv&amp;flag=skipped" in html
    assert "order=newest&amp;" not in html.split('id="export-csv"')[1].split(">")[0]


def test_a_reviewer_relabels_an_item_and_its_history_says_so(project, items, reviewer):
    client = _client(reviewer)
    url = f"/projects/{project.id}/items/{items[0].id}/"
    response = client.post(url, {"labels": ["neutral"], "comment": "sarcasm"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Final labels (reviewed by rita-reviewer)" in page
    assert "relabelled pos → neutral: sarcasm" in page
    assert "ann-annotator</strong> answered: pos" in page
    row = browse(project, size=1).items[0]
    assert (row["labels"], row["reviewed_by"], row["flags"]) == (
        ["neutral"],
        "rita-reviewer",
        ["reviewed"],
    )


def test_a_relabel_with_a_wrong_count_of_labels_is_refused_and_changes_nothing(
    project, items, reviewer
):
    url = f"/projects/{project.id}/items/{items[0].id}/"
    response = _client(reviewer).post(url, {"labels": ["pos", "neg"]})
    assert response.status_code == 400
    assert "exactly one label" in response.content.decode()
    assert not items[0].reviews.exists()


def test_an_annotator_cannot_relabel(project, items, annotator):
    url = f"/projects/{project.id}/items/{items[0].id}/"
    assert _client(annotator).post(url, {"labels": ["neg"]}).status_code == 403
    assert not items[0].reviews.exists()


def test_the_item_page_shows_the_models_prediction_and_its_runners_up(project, items, reviewer):
    top = {items[1]: [["pos", 0.81], ["neutral", 0.12], ["neg", 0.07]]}
    serve(project, {items[1]: (["pos"], 0.81), items[2]: (["neg"], 0.6)}, top=top)
    client = _client(reviewer)
    page = client.get(f"/projects/{project.id}/items/{items[1].id}/").content.decode()
    assert (
        "The model predicts <strong>pos</strong> (0.81 sure); else neutral 0.12, neg 0.07." in page
    )
    page = client.get(f"/projects/{project.id}/items/{items[2].id}/").content.decode()
    assert "The model predicts <strong>neg</strong> (0.60 sure)." in page  # no top stored


def test_the_item_page_costs_the_same_queries_however_many_answers(project, items, reviewer, admin):
    client = _client(reviewer)
    url = f"/projects/{project.id}/items/{items[3].id}/"
    few = _queries_for(client, url)
    answer(items[3], admin, ["pos"])
    reviews.relabel(item=items[3], reviewer=reviewer, labels=["neg"])
    reviews.relabel(item=items[3], reviewer=admin, labels=["pos"])
    assert _queries_for(client, url) == few


def test_a_far_page_reads_from_its_cursor_not_through_an_offset(project, items, reviewer):
    """Keyset pages: the thousandth page asks for the ids past its cursor, as the first page
    does, on the page and in the API; an OFFSET would read every row before it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, api = _client(reviewer), f"/api/v1/projects/{project.id}/items/?page_size=2"
    cursor_page = client.get(client.get(api).json()["next"])
    assert cursor_page.status_code == 200
    with CaptureQueriesContext(connection) as captured:
        client.get(cursor_page.json()["next"])
        client.get(f"/projects/{project.id}/?search=red&after={items[3].id}")
    item_reads = [q["sql"] for q in captured if 'FROM "annotation_item"' in q["sql"]]
    assert item_reads and not any("OFFSET" in sql for sql in item_reads)
    assert all('"annotation_item"."id" >' in sql for sql in item_reads[:1] + item_reads[-1:])


def test_an_admin_marks_an_item_gold_from_its_page_and_a_reviewer_may_not(
    project, items, admin, reviewer
):
    url = f"/projects/{project.id}/items/{items[4].id}/"
    refused = _client(reviewer).post(url, {"action": "gold", "labels": ["neg"]})
    assert refused.status_code == 403
    client = _client(admin)
    assert client.post(url, {"action": "gold", "labels": ["neg"]}).status_code == 302
    assert Item.objects.get(id=items[4].id).gold == ["neg"]
    assert "Gold: <strong>neg</strong>" in client.get(url).content.decode()
    assert client.post(url, {"action": "ungold"}).status_code == 302
    assert Item.objects.get(id=items[4].id).gold is None
