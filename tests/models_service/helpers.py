"""Shared set-up of the engine's tests: a project of real texts (data/texts.jsonl) and a way to
label through the services as annotators would."""

import json
from pathlib import Path

from annotation import imports, services
from annotation.models import Item, Membership
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

TEXTS = Path(__file__).resolve().parents[2] / "data" / "texts.jsonl"


def texts(n: int) -> list[dict]:
    rows = [json.loads(line) for line in TEXTS.read_text().splitlines()[:n]]
    return rows


def text_project(n: int = 300, *, multi_label: bool = False, **settings):
    """A project of the first n shipped texts; the true label stays in each item's data."""
    rows = texts(n)
    labels = sorted({row["label"] for row in rows})
    project = ProjectFactory(
        labels=labels, task_type="multi_label" if multi_label else "single_label", **settings
    )
    raw = "\n".join(json.dumps(row) for row in rows).encode()
    imports.import_items(project=project, raw=raw, file_format="jsonl")
    annotator = UserFactory(username=f"sim-{project.id}")
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ANNOTATOR)
    return project, annotator


def label_next(project, annotator, count: int) -> list[Item]:
    """Serve and label `count` items with their true label, as an annotator would."""
    labelled = []
    for _ in range(count):
        item = services.next_item_for(project=project, user=annotator)
        if item is None:
            break
        truth = item.data["label"]
        names = [truth] if not project.is_multi_label else truth_set(item.data)
        stored = Item.objects.select_related("project").get(id=item.id)
        services.submit_annotation(item=stored, annotator=annotator, labels=names)
        labelled.append(item)
    return labelled


def truth_set(data: dict) -> list[str]:
    return data["tags"] if "tags" in data else [data["label"]]


def run_round(project_id: int, *, cross_validate: bool = True):
    """One round in this process, as the worker would run it: train, then every chunk, then
    (unless told not to) the cross-validation that follows the switch."""
    from models_service.rounds import evaluation, lifecycle

    started = lifecycle.start_round(project_id)
    if started is None:
        return None
    version = started.version
    for index, (low, high) in enumerate(started.chunks):
        lifecycle.score_chunk(version.id, index, low, high)
    if cross_validate:
        evaluation.cross_validate(version.id)
    version.refresh_from_db()
    return version
