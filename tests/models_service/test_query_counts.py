"""Lists that grow are read in a fixed number of queries: the sweep over every project, the
projects page, the model versions and the dashboard's data (NetBox's query-count tests are the
model). Each case is measured at two sizes and pinned."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import ranking
from annotation.models import Membership
from models_service import tasks
from models_service.models import ModelVersion, Trainer
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory, answer

pytestmark = pytest.mark.django_db


def _queries(call) -> int:
    return len(_sql(call))


def _sql(call) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        call()
    return [query["sql"] for query in captured.captured_queries]


def _project_with_history(versions: int, *, member=None):
    """A project with labelled items, `versions` ready model versions, the newest serving a
    ranking, and a trainer row: what the sweep and the dashboard read."""
    project = ProjectFactory(labels=["pos", "neg"])
    annotator = member or UserFactory()
    MembershipFactory(project=project, user=annotator, role=Membership.Role.ADMIN)
    items = [ItemFactory(project=project) for _ in range(4)]
    for item in items[:2]:
        answer(item, annotator, ["pos"])
    for number in range(1, versions + 1):
        version = ModelVersion.objects.create(
            project=project,
            number=number,
            model="logistic_regression",
            strategy="margin",
            status=ModelVersion.Status.READY,
            trained_on=2,
            items_scored=4,
            metrics={"accuracy": 0.5, "n": 1},
            stop_set_predictions=[0] * 500,
        )
    ranking.begin(project_id=project.id, ranking_id=version.id)
    ranking.write_chunk(
        ranking_id=version.id,
        item_ids=[item.id for item in items],
        scores=[0.1] * 4,
        predicted_json=['["pos"]'] * 4,
        confidence=[0.5] * 4,
        is_open=[True] * 4,
    )
    ranking.switch(ranking_id=version.id)
    Trainer.objects.create(project=project)
    return project, annotator


def test_the_sweep_reads_every_project_in_a_fixed_number_of_queries(monkeypatch):
    monkeypatch.setattr(tasks.train_project, "delay", lambda project_id: None)
    measured = []
    for more in (2, 6):  # 2 projects, then 8
        for _ in range(more):
            _project_with_history(3)
        measured.append(_queries(tasks.sweep))
    # and one for the model files of deleted projects, two for chunks whose worker died, one to
    # say the worker is alive
    assert measured == [11, 11]


def test_the_projects_page_reads_in_a_fixed_number_of_queries(client):
    user = UserFactory()
    measured = []
    for projects in (2, 6):
        while Membership.objects.filter(user=user).count() < projects:
            _project_with_history(1, member=user)
        client.force_login(user)
        measured.append(_queries(lambda: client.get("/")))
    assert measured == [6, 6]


@pytest.mark.parametrize("path", ["models/", "learning/"])
def test_model_versions_and_the_dashboards_data_read_in_a_fixed_number_of_queries(api_client, path):
    measured = []
    for versions in (2, 12):
        project, admin = _project_with_history(versions)
        api_client.force_authenticate(admin)
        url = f"/api/v1/projects/{project.id}/{path}"
        queries = _sql(lambda url=url: api_client.get(url))
        measured.append(len(queries))
        # 500 predictions a version: the list reads none, the dashboard the newest nine's
        reads = [sql for sql in queries if "stop_set_predictions" in sql]
        if path == "models/":
            assert not reads
        else:
            assert len(reads) == 1
            in_list = reads[0].split(" IN (")[1].split(")")[0]
            assert len(in_list.split(",")) == min(versions, 9)
    pinned = {"models/": 3, "learning/": 9}[path]
    assert measured == [pinned, pinned]


def test_model_versions_come_a_page_at_a_time(api_client):
    project, admin = _project_with_history(12)
    api_client.force_authenticate(admin)
    body = api_client.get(f"/api/v1/projects/{project.id}/models/?page_size=5&page=3").json()
    assert body["count"] == 12
    assert [version["number"] for version in body["results"]] == [11, 12]
