"""The per-click paths read rows with plain SQL and build models from them (annotation.rows):
what they build must be what the ORM and the serializers would have given."""

import pytest
from rest_framework.test import APIClient

from annotation import access, tokens
from annotation.api import serializers
from annotation.api.authentication import TokenAuthentication
from annotation.models import Annotation, ApiToken, Item, Project
from tests.factories import ItemFactory

pytestmark = pytest.mark.django_db


def _values(instance) -> list:
    return [getattr(instance, field.attname) for field in instance._meta.concrete_fields]


def test_project_and_item_read_in_plain_sql_equal_the_orms(project, annotator):
    Project.objects.filter(id=project.id).update(
        stopping_rule={"kind": "budget", "labels": 40}, eval_share=0.1, show_predictions=True
    )
    item = ItemFactory(project=project, external_id="e-1", data={"text": "é ünïcode", "n": 3})

    read = access.project_for(annotator, project.id)
    assert _values(read) == _values(Project.objects.get(id=project.id))
    assert read.my_role == "annotator"
    read_item = access.item_for(annotator, item.id)
    assert _values(read_item) == _values(Item.objects.get(id=item.id))
    assert _values(read_item.project) == _values(Project.objects.get(id=project.id))


def test_a_token_user_and_token_equal_the_orms(annotator):
    key, _ = tokens.issue(user=annotator)
    user, token = TokenAuthentication().authenticate_credentials(key)
    assert _values(user) == _values(type(annotator).objects.get(id=annotator.id))
    assert _values(token) == _values(ApiToken.objects.get(user=annotator))


def test_the_answer_returned_on_submit_equals_the_serializers_view_of_the_stored_row(
    project, annotator
):
    item = ItemFactory(project=project)
    client = APIClient()
    client.force_authenticate(annotator)
    client.get(f"/api/v1/projects/{project.id}/next/")
    for labels in (["pos"], ["neg"]):  # a first answer, then a replacement
        body = {"labels": labels, "lead_time_ms": 1200, "comment": "sure"}
        answer = client.post(f"/api/v1/items/{item.id}/annotations/", body, format="json")
        assert answer.status_code == 201
        stored = Annotation.objects.get(id=answer.json()["id"])
        assert answer.json() == serializers.AnnotationOutput(stored).data
