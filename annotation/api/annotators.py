"""GET /projects/{id}/annotators/: how each annotator works (annotation.annotators)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import access, annotators
from annotation.api.base import ApiView
from annotation.models import Membership


class TrendPointOutput(serializers.Serializer):
    answers = serializers.IntegerField(help_text="their answers up to this window's end")
    started_at = serializers.DateTimeField()
    items_per_hour = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(allow_null=True)
    compared = serializers.IntegerField(help_text="answers in the window behind `agreement`")


class AnnotatorOutput(serializers.Serializer):
    username = serializers.CharField()
    answers = serializers.IntegerField(help_text="real answers, skips apart")
    skips = serializers.IntegerField()
    ambiguous = serializers.IntegerField(help_text="answers flagged ambiguous")
    needs_expert = serializers.IntegerField(help_text="answers flagged as needing an expert")
    skip_reasons = serializers.DictField(
        child=serializers.IntegerField(), help_text="skips by reason (none: no reason given)"
    )
    active_hours = serializers.FloatField(
        help_text="answers more than session_gap_minutes apart start a new session"
    )
    items_per_hour = serializers.FloatField(
        allow_null=True, help_text="answers and skips per active hour"
    )
    median_lead_time_s = serializers.FloatField(allow_null=True)
    agreement = serializers.FloatField(
        allow_null=True,
        help_text="share of their answers equal to the consensus of the item's other answers",
    )
    agreement_answers = serializers.IntegerField(help_text="answers behind `agreement`")
    gold_right = serializers.IntegerField()
    gold_answered = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    estimated_accuracy = serializers.FloatField(
        allow_null=True, help_text="Dawid-Skene's estimate; null without a fit"
    )
    estimated_confusion = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField()),
        allow_null=True,
        help_text="Dawid-Skene's confusion matrix: for each true label, the chance of each "
        "answered label; null without a fit",
    )
    label_shares = serializers.DictField(child=serializers.FloatField())
    bias_p_value = serializers.FloatField(
        allow_null=True,
        help_text="chi-square test of their label counts against the rest of the team's",
    )
    bias = serializers.CharField(
        allow_null=True, help_text="in words, when significant (p < 0.01) and not trivial"
    )
    trend = TrendPointOutput(many=True, help_text="oldest first, trend_window answers a point")
    trend_warning = serializers.CharField(
        allow_null=True, help_text="set when they got much faster and agree much less often"
    )


class AnnotatorReportOutput(serializers.Serializer):
    method = serializers.CharField(help_text="the consensus agreement is measured against")
    session_gap_minutes = serializers.FloatField()
    trend_window = serializers.IntegerField()
    answers_read = serializers.IntegerField(
        help_text="the latest answers that time, agreement and trend are read from"
    )
    answers_total = serializers.IntegerField()
    label_shares = serializers.DictField(
        child=serializers.FloatField(), help_text="the whole team's"
    )
    annotators = AnnotatorOutput(many=True)


class AnnotatorListApi(ApiView):
    """How each annotator works (reviewers and admins: it names people): counts, speed over
    active time, agreement with the others' consensus, gold and estimated accuracy, label
    bias and a trend."""

    @extend_schema(responses=AnnotatorReportOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Membership.Role.REVIEWER)
        report = annotators.annotator_report(project)
        return Response(AnnotatorReportOutput(report).data)
