"""The Django admin shows items, answers and leases but never edits them: their writers keep
each item's count, status and place in the queue in step."""

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Annotation
from tests.factories import ItemFactory, UserFactory, answer

pytestmark = pytest.mark.django_db


def test_the_admin_shows_items_and_answers_but_refuses_to_change_or_delete_them(client):
    superuser = get_user_model().objects.create_superuser("root", password="pw-root-123")
    item = ItemFactory()
    annotation = answer(item, UserFactory(), ["pos"])
    client.force_login(superuser)
    assert client.get(f"/admin/annotation/item/{item.id}/change/").status_code == 200
    changed = client.post(
        f"/admin/annotation/item/{item.id}/change/",
        {"annotation_count": 0, "status": "open", "data": "{}", "project": item.project_id},
    )
    assert changed.status_code == 403
    deleted = client.post(f"/admin/annotation/annotation/{annotation.id}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    item.refresh_from_db()
    assert (item.annotation_count, item.status) == (1, "done")
    assert Annotation.objects.filter(id=annotation.id).exists()
