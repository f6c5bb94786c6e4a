"""A project's seeds are chosen once: two workers seeding it at once store one set, not two."""

import threading

import pytest
from django.db import connection

from annotation import ranking
from annotation.models import Seed
from tests.factories import ItemFactory, ProjectFactory
from tests.services import require_postgres

pytestmark = pytest.mark.django_db(transaction=True)  # two connections, as two workers


def test_two_workers_seeding_a_project_at_once_store_one_set():
    require_postgres()  # SQLite runs one writer at a time anyway
    project = ProjectFactory()
    items = [ItemFactory(project=project).id for _ in range(20)]
    choices = [items[:10], items[10:]]  # two workers' different k-means draws
    barrier, stored = threading.Barrier(2), []

    def seed(item_ids):
        try:
            barrier.wait()
            stored.append(ranking.set_seeds(project_id=project.id, item_ids=item_ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=seed, args=(choice,)) for choice in choices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stored) == [0, 10]
    seeds = list(Seed.objects.filter(project=project).order_by("rank"))
    assert [seed.rank for seed in seeds] == list(range(10))
    assert [seed.item_id for seed in seeds] in choices
