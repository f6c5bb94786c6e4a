"""Before a project's first model: the diverse seeds it serves first."""

from annotation import ranking, selectors
from annotation.models import Project
from models_service.ml import diversity, features
from models_service.models import ModelVersion
from models_service.rounds import lifecycle, training
from models_service.rounds.artifacts import store
from models_service.rounds.data import pool_sample
from models_service.schedule import cadence

MAX_SEEDS = 50  # diverse items served before the first model


def seed_pool(project_id: int) -> int:
    """Choose the items to serve before the project's first model: one nearest each k-means
    centre of the pool sample, as many as the first model trains on (schedule.cadence, at
    most MAX_SEEDS). Does nothing once seeds or a model version exist; returns how many it
    chose. The featurizer and the sample's rows stay in this process for the first round."""
    project = Project.objects.filter(id=project_id).first()
    if project is None or ModelVersion.objects.filter(project_id=project_id).exists():
        return 0
    if ranking.has_seeds(project_id):
        return 0
    sample_ids, sample = pool_sample(project_id, vectors=True)
    if sample and features.vectors_of(sample) is not None:
        X = features.vectors_of(sample)
    else:
        sample_ids, sample = pool_sample(project_id, vectors=False)
        if not sample:
            return 0
        key = training.featurizer_key(project_id, selectors.item_count(project_id), sample_ids)
        try:
            X = store.features(key, store.featurizer(key, sample), sample_ids, sample)
        except features.NoTerms as error:
            # shown as why the project has no model; the sweep stops asking for seeds
            lifecycle.fail(project_id=project_id, error=error)
            return 0
    count = min(cadence(0, project.retrain_every), MAX_SEEDS, len(sample_ids))
    # clustered in the texts' main directions: seconds, not tens of seconds, on 5,000 texts
    chosen = diversity.cold_start(diversity.topics(X, project_id), count, seed=project_id)
    return ranking.set_seeds(project_id=project_id, item_ids=[sample_ids[i] for i in chosen])


def unseeded(project_ids: list[int]) -> list[int]:
    """Of these projects, those with items but neither seeds nor a model version yet."""
    candidates = ranking.unseeded(project_ids)
    modelled = set(
        ModelVersion.objects.filter(project_id__in=candidates).values_list("project_id", flat=True)
    )
    return [project_id for project_id in candidates if project_id not in modelled]
