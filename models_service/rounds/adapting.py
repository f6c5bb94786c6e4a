"""Between full rounds: incremental updates of the serving model (partial_fit)."""

from django.db import transaction

from annotation import ranking
from annotation.models import Project
from models_service import schedule
from models_service.ml import engine, strategies
from models_service.rounds import diversity, scoring, training
from models_service.rounds.data import training_data

ADAPT_HEAD = 2_000  # rankings re-scored by an incremental update between rounds


def adapt(project_id: int) -> int:
    """Fit the serving model further on the labels that came since it was trained (estimators
    with partial_fit: SGD, complement NB) and re-score the head of its queue, so that the next
    items served reflect answers given seconds ago. Returns how many items were re-scored (0:
    nothing to do, a round holds the claim, or no partial_fit).

    Always starts again from the version's stored model with every label since, so any worker
    can do it and repeating it changes nothing."""
    version = schedule.serving_version(project_id)
    if version is None or not engine.can_adapt(version.model):
        return 0
    token = schedule.claim(project_id)
    if token is None:
        return 0  # a round is in flight: its version will know these labels
    try:
        project = Project.objects.get(id=project_id)
        data = training_data(project, answered_since=version.created_at)
        bundle = training.fresh_bundle_of(version)  # the process's copy stays pristine
        if not engine.adapt(bundle, data.train.items, data.train.targets):
            return 0
        head = ranking.head(ranking_id=version.id, limit=ADAPT_HEAD)
        if not head:
            return 0
        scores, proba = bundle.score_proba(bundle.features([data for *_, data in head]))
        predicted, confidence = bundle.predictions(proba)
        with transaction.atomic():
            ranking.rescore(
                ranking_id=version.id,
                item_ids=[item_id for item_id, *_ in head],
                scores=scores.tolist(),
                predicted_json=scoring.predicted_json(bundle, predicted),
                confidence=confidence.tolist(),
                top_json=scoring.top_json(bundle, proba),
            )
            if strategies.get(version.strategy).diverse:
                diversity.diversify_top(project_id=project_id, ranking_id=version.id, bundle=bundle)
        return len(head)
    finally:
        schedule.release(project_id, token)
