"""REST API of the engine: model versions, retrain requests, predictions, learning state."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import access
from annotation.api.base import ApiView
from annotation.api.serializers import QueryInput
from annotation.models import Membership
from hitl.downloads import attachment, downloads
from hitl.pagination import Pagination
from models_service import learning, schedule
from models_service.kick import kick
from models_service.models import ModelVersion

Role = Membership.Role


class ModelVersionOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "number",
            "status",
            "model",
            "strategy",
            "trained_on",
            "eval_size",
            "metrics",
            "cv_metrics",
            "timings",
            "stopping",
            "chunks_total",
            "chunks_done",
            "items_scored",
            "error",
            "created_at",
            "finished_at",
        ]


class ModelVersionListApi(ApiView):
    """The project's model versions, oldest first, a page at a time (a project makes a version
    every label or two early on)."""

    pagination_class = Pagination

    @extend_schema(responses=ModelVersionOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id)
        versions = project.model_versions.order_by("number").defer("stop_set_predictions")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(versions, request, view=self)
        return paginator.get_paginated_response(ModelVersionOutput(page, many=True).data)


class TrainApi(ApiView):
    """Ask for a retrain now, whatever the cadence says (admins)."""

    @extend_schema(request=None, responses={202: dict})
    def post(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        schedule.request_training(project)
        kick(project.id, asked=True)
        return Response({"requested": True}, status=status.HTTP_202_ACCEPTED)


class LearningApi(ApiView):
    """What the dashboard shows: a headline, the learning curve, labels, round in flight,
    stopping rule and an estimate of what is left, pace per annotator today (annotators: their
    own), cost (reviewers and admins, when the project sets an hourly cost), the worker."""

    @extend_schema(responses=dict)
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id)
        sees_team = project.my_role in (Role.ADMIN, Role.REVIEWER)
        return Response(learning.state(project, viewer=request.user.username, sees_team=sees_team))


PREDICTION_TYPES = {"jsonl": "application/x-ndjson"}


class PredictionsQuery(QueryInput):
    format = serializers.ChoiceField(choices=list(PREDICTION_TYPES), default="jsonl")


class PredictionsApi(ApiView):
    """Every item's predicted labels, confidence, score and top labels under the serving
    version."""

    query_class = PredictionsQuery

    @extend_schema(responses=downloads(PREDICTION_TYPES))
    def get(self, request: Request, project_id: int):
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        version = schedule.serving_version(project.id)  # None: every prediction is null
        return attachment(
            learning.prediction_lines(project, version),
            content_type=PREDICTION_TYPES["jsonl"],
            filename=f"project-{project.id}-predictions.jsonl",
        )
