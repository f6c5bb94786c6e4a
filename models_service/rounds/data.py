"""What a round reads: the training labels (annotation's consensus, as class indices) and the
pool sample the featurizer learns from. Rows come through annotation's selectors only."""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from annotation import judging, selectors
from annotation.models import Project

POOL_SAMPLE_SIZE = 5_000  # unlabelled texts the featurizer learns its vocabulary from


@dataclass
class Split:
    """Item ids, their data and their targets (a class index, or an indicator row when
    multi-label), in id order."""

    ids: list[int] = field(default_factory=list)
    items: list[dict] = field(default_factory=list)
    targets: list = field(default_factory=list)

    def add(self, item_id: int, data: dict, target) -> None:
        self.ids.append(item_id)
        self.items.append(data)
        self.targets.append(target)

    def subset(self, positions) -> "Split":
        return Split(
            [self.ids[i] for i in positions],
            [self.items[i] for i in positions],
            [self.targets[i] for i in positions],
        )


@dataclass
class TrainingData:
    """The project's classes and its agreed labels, split into training and evaluation sample
    (items served as random evaluation draws measure the model and never train it)."""

    classes: list[str]
    train: Split
    eval: Split
    needs_review: int = 0  # items left out because their answers tie


def refit_consensus(project: Project) -> None:
    """Refit the project's Dawid-Skene model on every item answered twice or more, so that
    this round trains on what the current answers say (annotation.judging); majority-vote
    and multi-label projects keep none."""
    if project.consensus == Project.Consensus.MAJORITY or project.is_multi_label:
        return
    judging.refit(project, selectors.multiply_answered(project))


def training_data(
    project: Project,
    *,
    answered_since: datetime | None = None,
    answered_until: datetime | None = None,
) -> TrainingData:
    """The agreed labels of every labelled item (or of those answered since a moment, or of
    the answers given until one) as training targets. Items whose answers tie are left out."""
    classes = list(project.labels.order_by("order", "id").values_list("name", flat=True))
    index_of = {name: i for i, name in enumerate(classes)}
    data = TrainingData(classes, Split(), Split())
    judged = selectors.judged_items(
        project, answered_since=answered_since, answered_until=answered_until
    )
    target: int | np.ndarray
    for item in judged:
        if item.agreement.needs_review:
            data.needs_review += 1
            continue
        # a verdict keeps label names: one since removed from the project teaches nothing
        indices = [index_of[name] for name in item.agreement.labels if name in index_of]
        if not indices and not project.is_multi_label:
            continue
        if project.is_multi_label:
            target = np.zeros(len(classes), dtype=int)
            target[indices] = 1
        else:
            target = indices[0]
        (data.eval if item.in_eval else data.train).add(item.id, item.data, target)
    return data


def trainable(targets: list, *, multi_label: bool) -> bool:
    """Whether the labels can train a model: two classes to tell apart (two rows of labels,
    multi-label)."""
    if multi_label:
        return len(targets) >= 2
    return len(set(targets)) >= 2


def pool_sample(project_id: int, *, vectors: bool) -> tuple[list[int], list[dict]]:
    """A fixed random sample of the pool (lowest random keys, drawn once at import): its texts
    give the featurizer its vocabulary, and its head is the stabilizing rule's stop set."""
    rows = selectors.model_inputs(
        project_id,
        field="features" if vectors else "text",
        order="random_key",
        limit=POOL_SAMPLE_SIZE,
    )
    return [item_id for item_id, _data, _open in rows], [data for _id, data, _open in rows]
