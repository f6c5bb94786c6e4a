"""A tiny import whose texts leave the featurizer no word: the worker records why the project
has no model, where its admin reads it (the learning state, the dashboard), instead of a task
that raises on every sweep and a project that says nothing."""

import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotation import imports
from annotation.models import Item, Membership
from models_service import tasks
from models_service.models import ModelVersion, Trainer
from models_service.rounds import lifecycle, seeding
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = pytest.mark.django_db

NO_WORDS = ["a", "!", "...", "?!", "x", "I", "-", "a.", "b c", "(:", "#", "é"]


def _project(texts: list[str]):
    project = ProjectFactory(labels=["pos", "neg"], eval_share=0.0)
    raw = "\n".join(json.dumps({"text": text}) for text in texts).encode()
    imports.import_items(project=project, raw=raw, file_format="jsonl")
    admin = UserFactory(username=f"admin-{project.id}")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    return project, admin


def _label_all(project, person) -> None:
    for index, item in enumerate(Item.objects.filter(project=project).order_by("id")):
        answer(item, person, ["pos" if index % 2 else "neg"])


def _back_off_over(project) -> None:
    Trainer.objects.filter(project=project).update(retry_after=timezone.now())


def _learning(project, admin) -> dict:
    client = APIClient()
    client.force_authenticate(admin)
    response = client.get(f"/api/v1/projects/{project.id}/learning/")
    assert response.status_code == 200
    return response.json()


def test_texts_without_words_say_why_there_is_no_model_from_the_seeding_on():
    project, admin = _project(NO_WORDS)
    assert tasks.train_project(project.id) is None  # seeding: no crash of the task
    [failed] = ModelVersion.objects.filter(project=project)
    assert failed.status == ModelVersion.Status.FAILED
    failure = _learning(project, admin)["failure"]
    assert failure["error"].startswith("No model yet: the texts have no words the model can use")
    assert seeding.unseeded([project.id]) == []  # the sweep does not ask again every 15 s


def test_a_round_due_on_texts_without_words_fails_with_the_reason_and_raises_nothing():
    project, admin = _project(NO_WORDS)
    _label_all(project, admin)  # 12 labels: a round is due
    assert lifecycle.start_round(project.id) is None
    failed = ModelVersion.objects.get(project=project)
    assert (failed.status, failed.trained_on) == (ModelVersion.Status.FAILED, 12)
    assert failed.error.startswith("No model yet: the texts have no words")
    state = _learning(project, admin)
    assert state["serving_version"] is None
    assert state["failure"]["version"] == failed.number
    assert state["failure"]["error"] == failed.error
    assert state["failure"]["retry_after"] is not None  # backs off like any failed round
    _back_off_over(project)
    assert tasks.train_project(project.id) is None  # the task itself: recorded, not raised
    assert ModelVersion.objects.filter(project=project, status="failed").count() == 2
    assert Trainer.objects.get(project=project).claim == ""


def test_short_texts_that_share_no_letters_get_seeds_and_a_model():
    """Character n-grams need two texts each (min_df): in a pool like this none survives, and
    the seeding and first round used to fail though every text is a word."""
    project, admin = _project(["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st", "uv"])
    assert seeding.seed_pool(project.id) > 0
    _label_all(project, admin)
    started = lifecycle.start_round(project.id)
    assert started is not None
    for index, (low, high) in enumerate(started.chunks):
        lifecycle.score_chunk(started.version.id, index, low, high)
    started.version.refresh_from_db()
    assert started.version.status == ModelVersion.Status.READY
    assert _learning(project, admin)["failure"] is None
