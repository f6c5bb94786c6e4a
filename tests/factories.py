import json
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotation import queue, ranking, services
from annotation.models import Annotation, ImportChunk, ImportJob, Item, Label, Membership, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"project {n}")

    @factory.post_generation
    def labels(project, create, extracted, **kwargs):
        names = extracted if extracted is not None else ["pos", "neg"]
        for order, name in enumerate(names):
            shortcut = str(order + 1) if order < 9 else ""  # keys 1-9, as the API gives them
            Label.objects.create(project=project, name=name, shortcut=shortcut, order=order)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    project = factory.SubFactory(ProjectFactory)
    role = Membership.Role.ANNOTATOR


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    data = factory.Sequence(lambda n: {"text": f"text number {n}"})


def answer(item: Item, annotator, labels: list[str], **fields) -> Annotation:
    """Lease the item to the annotator, as the queue serves it, and record their answer: only
    the holder of a live lease answers."""
    return services.submit_annotation(
        item=_leased(item, annotator), annotator=annotator, labels=labels, **fields
    )


def answered_by_two(project, annotator, mine: dict, theirs: dict) -> tuple[Item, Any]:
    """An item (overlap 2) answered by `annotator` and by a second annotator, someone-else:
    `mine` and `theirs` are each answer's labels and fields. Returns the item and the other."""
    other = UserFactory(username="someone-else")
    MembershipFactory(project=project, user=other, role="annotator")
    project.overlap = 2
    project.save()
    item = Item.objects.create(project=project, data={"text": "shared"})
    answer(item, annotator, **mine)
    answer(item, other, **theirs)
    return Item.objects.get(id=item.id), other


def skip(item: Item, annotator, **fields) -> Annotation:
    """Lease the item to the annotator and record that they passed on it."""
    return services.skip_item(item=_leased(item, annotator), annotator=annotator, **fields)


def _leased(item: Item, annotator) -> Item:
    queue.lease(
        item_id=item.id, project_id=item.project_id, user_id=annotator.id, now=timezone.now()
    )
    return Item.objects.select_related("project").get(id=item.id)


def serve(
    project, predictions: dict, *, ranking_id: int | None = None, top: dict | None = None
) -> int:
    """Make a ranking serve the project with these {item: (predicted names, confidence)}, as
    a round writes one (annotation.ranking), and, for the items in `top`, their top labels
    ({item: [[name, probability], ...]}); returns its id."""
    ranking_id = ranking_id or 1_000_000 + project.id
    ranking.begin(project_id=project.id, ranking_id=ranking_id)
    tops = [json.dumps(top[item]) if item in (top or {}) else None for item in predictions]
    ranking.write_chunk(
        ranking_id=ranking_id,
        item_ids=[item.id for item in predictions],
        scores=[confidence for _, confidence in predictions.values()],
        predicted_json=[json.dumps(names) for names, _ in predictions.values()],
        confidence=[confidence for _, confidence in predictions.values()],
        is_open=[item.status == Item.Status.OPEN for item in predictions],
        top_json=tops,
    )
    ranking.switch(ranking_id=ranking_id)
    return ranking_id


def queued_job(project, user, body: bytes, file_format: str = "jsonl", **fields) -> ImportJob:
    """An import job as queue_import leaves it, but with no message to a worker: the test
    runs it, or the sweep sends it."""
    job = ImportJob.objects.create(
        project=project, created_by=user, file_format=file_format, size_bytes=len(body), **fields
    )
    ImportChunk.objects.create(job=job, number=0, data=body)
    return job
