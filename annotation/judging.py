"""How a project judges its items (the `consensus` setting): majority vote, or the answers read
through its fitted Dawid-Skene model; and the one order of precedence, a reviewer's verdict
over gold labels over the answers. The owner of TruthModel: fitted here, read here.

`auto` (the default) uses Dawid-Skene once AUTO_MIN_ITEMS items have two answers or more:
before that there is too little overlap to tell a careful annotator from a careless one, and
the majority is the honest answer. Multi-label projects use the majority per label (the
fitted model is single-label). The engine refits before each round's training
(`refit`), so the model trains on what the current fit says.
"""

from collections.abc import Sequence

import numpy as np
from django.db import transaction
from django.utils import timezone

from annotation import truth
from annotation.consensus import (
    AUTO_MIN_ITEMS,
    GOLD,
    VERDICT,
    Agreement,
    FittedTruth,
    agreed_labels,
    model_evidence,
    settled,
)
from annotation.models import Project, TruthModel


class Judge:
    """One project's judging, loaded once for a batch of items."""

    def __init__(self, project: Project, fitted: FittedTruth | None):
        self.multi_label = project.is_multi_label
        self.fitted = fitted

    @property
    def method(self) -> str:
        return "dawid_skene" if self.fitted is not None else "majority"

    def agreement(
        self,
        answers: Sequence[tuple[str, Sequence[str]]],
        *,
        verdict: Sequence[str] | None = None,
        gold: Sequence[str] | None = None,
    ) -> Agreement[str] | None:
        """The item's labels from its (annotator, labels) real answers, unless a reviewer's
        verdict or its gold labels settle them."""
        if verdict is not None:
            return settled(verdict, VERDICT)
        if gold is not None:
            return settled(gold, GOLD)
        if self.fitted is not None:
            return self.fitted.agreement(answers)
        return agreed_labels([labels for _, labels in answers], multi_label=self.multi_label)

    def with_model(
        self, answers: Sequence[tuple[str, Sequence[str]]], predicted: str, confidence: float
    ) -> Agreement[str] | None:
        """The answers' posterior with the serving model's prediction as evidence, for the
        decision to ask for another answer only (never the item's recorded labels: training
        on them would teach the model its own guesses). None under majority vote: there is
        no posterior to weigh the model against."""
        if self.fitted is None:
            return None
        evidence = model_evidence(self.fitted.labels, predicted, confidence)
        if evidence is None:
            return None
        return self.fitted.agreement(answers, evidence=evidence)


def judge_for(project: Project) -> Judge:
    """The project's judge: its fitted model where its setting asks for one and it exists
    (one query), else the majority."""
    if project.consensus == Project.Consensus.MAJORITY or project.is_multi_label:
        return Judge(project, None)
    stored = TruthModel.objects.filter(project=project).first()
    if stored is None:
        return Judge(project, None)
    if project.consensus == Project.Consensus.AUTO and stored.items < AUTO_MIN_ITEMS:
        return Judge(project, None)
    fitted = FittedTruth(
        labels=stored.labels,
        annotators=stored.annotators,
        confusion=np.array(stored.confusion),
        priors=np.array(stored.priors),
    )
    return Judge(project, fitted)


@transaction.atomic
def refit(
    project: Project, answers: Sequence[tuple[int, str, frozenset[str]]]
) -> TruthModel | None:
    """Fit Dawid-Skene on the project's answers to items with two or more (item, annotator,
    labels; annotation.selectors.multiply_answered) and keep it; None (and nothing kept) for
    a multi-label project or one without such items."""
    labels = list(project.labels.order_by("order", "id").values_list("name", flat=True))
    single = [(item, who, chosen) for item, who, chosen in answers if len(chosen) == 1]
    if project.is_multi_label or not single:
        TruthModel.objects.filter(project=project).delete()
        return None
    column = {name: n for n, name in enumerate(labels)}
    single = [(item, who, chosen) for item, who, chosen in single if next(iter(chosen)) in column]
    item_rows = {item: n for n, item in enumerate(sorted({item for item, _, _ in single}))}
    people = sorted({who for _, who, _ in single})
    person_rows = {who: n for n, who in enumerate(people)}
    estimate = truth.dawid_skene(
        np.array([item_rows[item] for item, _, _ in single]),
        np.array([person_rows[who] for _, who, _ in single]),
        np.array([column[next(iter(chosen))] for _, _, chosen in single]),
        n_items=len(item_rows),
        n_annotators=len(people),
        n_labels=len(labels),
    )
    model, _ = TruthModel.objects.update_or_create(
        project=project,
        defaults={
            "labels": labels,
            "annotators": person_rows,
            "confusion": estimate.confusion.round(6).tolist(),
            "priors": estimate.priors.round(6).tolist(),
            "items": len(item_rows),
            "fitted_at": timezone.now(),
        },
    )
    return model


def estimated_confusion(model: TruthModel) -> dict[str, dict[str, dict[str, float]]]:
    """Each annotator's fitted confusion matrix in words: {true label: {answered label: the
    chance they answer it}}, rounded to 4 places."""
    labels, matrices = model.labels, model.confusion
    return {
        who: {
            truth: {answered: round(share, 4) for answered, share in zip(labels, row, strict=True)}
            for truth, row in zip(labels, matrices[index], strict=True)
        }
        for who, index in model.annotators.items()
    }


def estimated_accuracy(model: TruthModel) -> dict[str, float]:
    """Each annotator's estimated chance of answering the truth, by the fitted matrices."""
    accuracy = truth.annotator_accuracy(np.array(model.confusion), np.array(model.priors))
    return {who: float(accuracy[row]) for who, row in model.annotators.items()}
