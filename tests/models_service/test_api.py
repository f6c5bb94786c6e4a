"""The engine's REST API: settings through PATCH, versions, retrain requests, predictions and
the learning state (one process; the loop across processes is test_engine_worker.py)."""

import json

import pytest
from rest_framework.test import APIClient

from annotation import engine_options, services
from annotation.errors import InvalidSettings
from annotation.models import Membership
from annotation.ui.forms import ProjectForm
from models_service import options
from models_service.ml import strategies
from models_service.models import Trainer
from tests.factories import MembershipFactory, UserFactory
from tests.models_service.helpers import label_next, run_round, text_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained():
    project, annotator = text_project(200, eval_share=0.0)
    label_next(project, annotator, 30)
    version = run_round(project.id)
    admin = UserFactory(username=f"boss-{project.id}")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    client = APIClient()
    client.force_authenticate(admin)
    return project, version, client


def test_patch_takes_the_engine_settings(project, admin, api_client):
    api_client.force_authenticate(admin)
    changes = {
        "model": "complement_nb",
        "strategy": "committee",
        "retrain_every": 25,
        "eval_share": 0.05,
        "eval_sample_size": 200,
        "show_predictions": False,
        "stopping_rule": {"kind": "target", "metric": 0.9},
    }
    response = api_client.patch(f"/api/v1/projects/{project.id}/", changes, format="json")
    assert response.status_code == 200, response.json()
    assert {key: response.json()[key] for key in changes} == changes
    project.refresh_from_db()
    assert (project.model, project.strategy, project.retrain_every) == (
        "complement_nb",
        "committee",
        25,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strategy": "psychic"}, "strategy"),
        ({"model": "gpt"}, "model"),
        ({"eval_share": 0.9}, "eval_share"),
        ({"eval_sample_size": -1}, "eval_sample_size"),
        ({"retrain_every": 0}, "retrain_every"),
        ({"stopping_rule": {"kind": "budget"}}, "stopping_rule.labels"),
        ({"stopping_rule": {"kind": "sometime"}}, "stopping_rule.kind"),
        ({"stopping_rule": {"kind": "target", "metric": 0.9, "extra": 1}}, "stopping_rule.extra"),
    ],
)
def test_bad_engine_settings_are_refused_with_their_field(
    project, admin, api_client, changes, field
):
    api_client.force_authenticate(admin)
    before = {"strategy": project.strategy, "model": project.model}
    response = api_client.patch(f"/api/v1/projects/{project.id}/", changes, format="json")
    assert response.status_code == 400
    assert field in [error["field"] for error in response.json()["errors"]], response.json()
    project.refresh_from_db()
    assert {"strategy": project.strategy, "model": project.model} == before


def test_model_versions_list_metrics_in_order(trained):
    project, version, client = trained
    body = client.get(f"/api/v1/projects/{project.id}/models/").json()
    assert body["count"] == 1 and [v["number"] for v in body["results"]] == [1]
    first = body["results"][0]
    assert first["status"] == "ready" and first["trained_on"] == 30
    assert first["cv_metrics"]["note"] == "cross-validated on training labels"


def test_predictions_stream_every_item_with_the_serving_versions_labels(trained):
    project, version, client = trained
    response = client.get(f"/api/v1/projects/{project.id}/predictions/?format=jsonl")
    assert response.status_code == 200
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(lines) == 200
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    names = set(project.labels.values_list("name", flat=True))
    assert all(set(line["predicted"]) <= names and len(line["predicted"]) == 1 for line in lines)
    assert all(0 < line["confidence"] <= 1 and line["model_version"] == 1 for line in lines)
    for line in lines:  # the three most probable of its labels, the predicted one first
        top_names = [top["label"] for top in line["top"]]
        assert top_names[0] == line["predicted"][0]
        assert len(set(top_names)) == 3 and set(top_names) <= names
        probabilities = [top["probability"] for top in line["top"]]
        assert probabilities == sorted(probabilities, reverse=True)


def test_predictions_in_another_format_are_refused(trained):
    project, _version, client = trained
    response = client.get(f"/api/v1/projects/{project.id}/predictions/?format=csv")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "format"


def test_an_admin_retrain_request_is_recorded_in_the_database(trained):
    project, _version, client = trained
    assert client.post(f"/api/v1/projects/{project.id}/train/").status_code == 202
    assert Trainer.objects.get(project=project).requested
    assert run_round(project.id).number == 2


def test_learning_state_reads_as_the_dashboard_needs_it(trained):
    project, version, client = trained
    state = client.get(f"/api/v1/projects/{project.id}/learning/").json()
    assert state["labelled"] == 30 and state["items"] == 200
    assert state["serving_version"] == 1 and state["round"] is None
    assert state["curve"][0]["labels"] == 30
    assert state["stopping"] == {"stop": False, "reason": "fewer than two models to compare"}
    assert state["next_round_after"] == 1  # the default retrain_every: 30 labels is small


def test_next_hides_the_suggestion_when_the_project_does_not_show_it(trained):
    project, _version, client = trained
    project.show_predictions = False
    project.save()
    MembershipFactory(project=project, user=UserFactory(username="lab"), role="annotator")
    served = client.get(f"/api/v1/projects/{project.id}/next/").json()
    assert served["prediction"] is None


def test_an_accepted_suggestion_is_recorded_with_the_answer(trained):
    project, _version, client = trained
    served = client.get(f"/api/v1/projects/{project.id}/next/").json()
    suggested = served["prediction"]["labels"]
    response = client.post(
        f"/api/v1/items/{served['id']}/annotations/",
        {"labels": suggested, "prediction_shown": True, "prediction_accepted": True},
        format="json",
    )
    assert response.status_code == 201
    from annotation.models import Annotation

    answer = Annotation.objects.get(id=response.json()["id"])
    assert (answer.prediction_shown, answer.prediction_accepted) == (True, True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"eval_share": 0.9}, "eval_share"),
        ({"strategy": "psychic"}, "strategy"),
        ({"stopping_rule": {"kind": "budget", "labels": 0}}, "stopping_rule.labels"),
    ],
)
def test_every_writer_of_settings_goes_through_the_models_validators(project, changes, field):
    """The service checks, not only the API: a page, a command or a script is held to the same
    bounds, choices and stopping rules."""
    with pytest.raises(InvalidSettings) as refused:
        services.update_project(project=project, **changes)
    assert [error["field"] for error in refused.value.errors] == [field]
    project.refresh_from_db()
    assert (project.eval_share, project.strategy, project.stopping_rule) == (
        0.05,
        "diverse_margin",
        {},
    )


def test_a_new_strategy_is_offered_wherever_the_registry_lists_it(monkeypatch, admin, api_client):
    """One class and one registry line: the API and the settings page offer it, no migration."""

    class Farthest(strategies.Margin):
        name, title = "farthest", "Farthest first"

    monkeypatch.setitem(strategies.STRATEGIES, "farthest", Farthest())
    engine_options.offer(options.engine_options())
    try:
        api_client.force_authenticate(admin)
        url = f"/api/v1/projects/{admin.memberships.get().project_id}/"
        response = api_client.patch(url, {"strategy": "farthest"}, format="json")
        assert response.status_code == 200, response.json()
        assert ("farthest", "Farthest first") in ProjectForm().fields["strategy"].choices
    finally:
        monkeypatch.undo()
        engine_options.offer(options.engine_options())
