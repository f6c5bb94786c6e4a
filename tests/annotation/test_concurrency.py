"""16 annotators at once over real HTTP connections: no item twice, no answer lost.

Runs on whichever database the suite uses: SQLite by default, PostgreSQL in CI.
"""

import threading
import time
from collections import Counter

import httpx
import pytest

from annotation import tokens
from annotation.models import Annotation, Item, Lease, Membership
from tests.factories import MembershipFactory, UserFactory

ANNOTATORS = 16


def _annotate_until_empty(
    base_url: str,
    token: str,
    project_id: int,
    served: list,
    answered: list,
    failures: list,
    labels_for=lambda item_id: ["pos"],
) -> None:
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        deadline = time.monotonic() + 90
        for _ in range(1_000):  # bounded: the pool is far smaller
            response = client.get(f"/api/v1/projects/{project_id}/next/")
            if response.status_code == 204:
                # Nothing for me now; under dynamic overlap an item someone else is answering
                # may come back wanting another answer, so stop only once the project is done.
                progress = client.get(f"/api/v1/projects/{project_id}/progress/").json()
                if progress["done"] == progress["total"] or time.monotonic() > deadline:
                    return
                time.sleep(0.05)
                continue
            if response.status_code != 200:
                failures.append(("next", response.status_code, response.text))
                return
            item_id = response.json()["id"]
            served.append(item_id)
            answer = client.post(
                f"/api/v1/items/{item_id}/annotations/",
                json={"labels": labels_for(item_id), "lead_time_ms": 1},
            )
            if answer.status_code != 201:
                failures.append(("annotate", answer.status_code, answer.text))
                return
            answered.append(item_id)


def _run_annotators(live_server, project, users, labels_for=None):
    """Every user annotates until the queue is empty; `labels_for(n, item_id)` the labels the
    n-th user gives (all `pos` by default)."""
    served, answered, failures = [], [], []
    threads = [
        threading.Thread(
            target=_annotate_until_empty,
            args=(
                live_server.url,
                tokens.issue(user=user)[0],
                project.id,
                served,
                answered,
                failures,
                *([lambda item_id, n=n: labels_for(n, item_id)] if labels_for else []),
            ),
        )
        for n, user in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an annotator thread hung"
    return served, answered, failures


def _crowd(project, items: int) -> list:
    """Fill the project with `items` items and return ANNOTATORS new annotators of it."""
    Item.objects.bulk_create(Item(project=project, data={"text": f"t{n}"}) for n in range(items))
    users = [UserFactory(username=f"crowd-{n}") for n in range(ANNOTATORS)]
    for user in users:
        MembershipFactory(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return users


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_annotators_never_share_an_item_and_lose_nothing(live_server, project):
    served, answered, failures = _run_annotators(live_server, project, _crowd(project, 400))

    assert failures == []
    duplicates = [item for item, n in Counter(served).items() if n > 1]
    assert duplicates == []
    assert len(answered) == 400
    assert Annotation.objects.count() == 400  # every 201 is a row: nothing lost
    assert set(Item.objects.values_list("status", flat=True)) == {"done"}
    assert not Lease.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_sixteen_concurrent_annotators_with_overlap_two(live_server, project):
    project.overlap = 2
    project.save()
    served, answered, failures = _run_annotators(live_server, project, _crowd(project, 120))

    assert failures == []
    assert Counter(Counter(served).values()) == {2: 120}
    per_item = Counter(Annotation.objects.values_list("item_id", flat=True))
    assert set(per_item.values()) == {2}
    pairs = Annotation.objects.values_list("item_id", "annotator_id")
    assert len(set(pairs)) == 240  # two *different* people per item


def _disagreeing(n: int, item_id: int) -> list[str]:
    """The n-th annotator's labels: people disagree on some items."""
    return ["pos"] if (item_id * 7 + n) % 3 else ["neg"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("overlap", "gold_items"),
    [(2, 0), (1, 10)],
    ids=["overlap-2-to-3", "overlap-1-to-3-with-gold"],
)
def test_sixteen_concurrent_annotators_with_dynamic_overlap_up_to_three(
    live_server, project, overlap, gold_items
):
    """Items whose first two answers disagree go back to the queue for a third person, one at
    a time (under majority a lone answer asks a second); gold items, a tenth of the serves,
    go to anyone who has not seen them; no one answers an item twice and nothing is lost."""
    project.overlap, project.max_overlap, project.consensus = overlap, 3, "majority"
    project.gold_share = 0.1 if gold_items else 0
    project.save()
    users = _crowd(project, 120)
    gold = Item.objects.bulk_create(
        Item(project=project, data={"text": f"known {n}"}, gold=["pos"]) for n in range(gold_items)
    )
    served, answered, failures = _run_annotators(live_server, project, users, _disagreeing)

    assert failures == []
    per_item: dict[int, list[str]] = {}
    for item_id, name in Annotation.objects.order_by("id").values_list("item_id", "labels__name"):
        per_item.setdefault(item_id, []).append(name)
    on_gold = {item.id: per_item.pop(item.id, []) for item in gold}
    assert set(map(len, per_item.values())) == {2, 3}  # some disagreed, some did not
    for names in per_item.values():
        first_two_agree = names[0] == names[1]
        assert len(names) == (2 if first_two_agree else 3)
    assert all(1 <= len(names) <= len(users) for names in on_gold.values())
    assert len(answered) == sum(map(len, [*per_item.values(), *on_gold.values()]))  # every 201
    pairs = Annotation.objects.values_list("item_id", "annotator_id")
    assert len(set(pairs)) == len(pairs)  # never the same person twice on an item
    assert set(Item.objects.values_list("status", flat=True)) == {"done"}
    assert not Lease.objects.exists()
