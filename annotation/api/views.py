"""REST API views: each checks access through annotation.access, then calls one service."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import (
    access,
    annotators,
    audit,
    exports,
    gold,
    imports,
    label_issues,
    parsing,
    review_queue,
    reviews,
    selectors,
    services,
)
from annotation.api import serializers as s
from annotation.api.base import ApiView
from annotation.api.parsers import UnreadBody
from annotation.api.schema import refusals
from annotation.errors import DomainError, PayloadTooLarge
from annotation.models import Item, Membership, Project
from hitl.downloads import attachment, downloads
from hitl.pagination import KeysetPagination, Pagination
from hitl.requests import SignedInRequest

Role = Membership.Role


def _project_out(project: Project) -> dict:
    return s.ProjectOutput(project).data


class ProjectListCreateApi(ApiView):
    @extend_schema(responses=s.ProjectOutput(many=True))
    def get(self, request: SignedInRequest) -> Response:
        projects = selectors.projects_of(request.user).prefetch_related("labels").order_by("id")
        return Response([_project_out(project) for project in projects])

    @extend_schema(request=s.ProjectInput, responses={201: s.ProjectOutput})
    def post(self, request: SignedInRequest) -> Response:
        access.require_project_creator(request.user)
        payload = s.ProjectInput(data=request.data)
        payload.is_valid(raise_exception=True)
        project = services.create_project(creator=request.user, **payload.validated_data)
        project.my_role = Role.ADMIN
        return Response(_project_out(project), status=status.HTTP_201_CREATED)


class ProjectDetailApi(ApiView):
    @extend_schema(responses=s.ProjectOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(_project_out(access.project_for(request.user, project_id)))

    @extend_schema(
        request=s.ProjectInput(partial=True), responses={200: s.ProjectOutput, **refusals(409)}
    )
    def patch(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        payload = s.ProjectInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        project = services.update_project(
            project=project, actor=request.user, **payload.validated_data
        )
        return Response(_project_out(project))

    @extend_schema(responses={204: None})
    def delete(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        services.delete_project(project=project, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProjectProgressApi(ApiView):
    @extend_schema(responses=s.ProgressOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id)
        return Response(selectors.project_progress(project))


class ProjectAgreementApi(ApiView):
    """How far the project's annotators agree beyond chance (reviewers and admins: it names
    people): annotation.agreement over every item with two real answers or more."""

    @extend_schema(responses=s.AgreementOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        return Response(s.agreement_out(annotators.agreement_report(project)))


class LabelIssueListApi(ApiView):
    """The project's likely label errors, most suspicious first (reviewers and admins): found
    after each round by confident learning on the model's out-of-sample probabilities; a
    verdict on the item resolves its issues (annotation.label_issues)."""

    pagination_class = Pagination
    query_class = s.LabelIssueQuery

    @extend_schema(responses=s.LabelIssueOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        resolved = self.query.validated_data.get("include") == "resolved"
        issues = label_issues.open_issues(project, include_resolved=resolved)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(issues, request, view=self)
        return paginator.get_paginated_response(s.LabelIssueOutput(page, many=True).data)


class MemberListCreateApi(ApiView):
    @extend_schema(responses=s.MemberOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        members = project.memberships.select_related("user").order_by("id")
        return Response(s.MemberOutput(members, many=True).data)

    @extend_schema(request=s.MemberInput, responses={201: s.MemberOutput, **refusals(409)})
    def post(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        payload = s.MemberInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user = access.user_to_add(request.user, payload.validated_data["username"])
        membership = services.set_member(
            project=project, user=user, role=payload.validated_data["role"], actor=request.user
        )
        return Response(s.MemberOutput(membership).data, status=status.HTTP_201_CREATED)


class MemberDeleteApi(ApiView):
    @extend_schema(responses={204: None, **refusals(409)})
    def delete(self, request: SignedInRequest, project_id: int, user_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        membership = project.memberships.filter(user_id=user_id).first()
        if membership is None:
            return Response({"detail": "no such member"}, status=status.HTTP_404_NOT_FOUND)
        services.remove_member(membership=membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ItemImportApi(ApiView):
    """Import items from a JSON array, JSON Lines or CSV body, or a multipart `file` upload.

    Small uploads answer 201 with the counts; larger ones (or `?async=true`) answer 202 with an
    import job to poll. Any bad row: 400 with every error's line and field, nothing imported.
    Rows whose external_id the project has already: `?on_duplicate=` reject (such a bad row),
    skip, update.
    """

    # A multipart upload's file goes to disk as Django receives it (the page's uploads); any
    # other body is read raw, as a stream, by _upload: a parser would load it whole.
    parser_classes = [MultiPartParser, UnreadBody]
    query_class = s.ImportQuery

    @extend_schema(
        request={
            "application/json": s.IMPORT_ROWS,
            "application/x-ndjson": s.IMPORT_ROWS,  # one row per line
            "text/csv": bytes,
            "multipart/form-data": bytes,  # a `file` part in any of the three formats
        },
        responses={201: s.ImportOutput, 202: s.ImportJobOutput, **refusals(409, 413)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        query = self.query.validated_data
        on_duplicate = query["on_duplicate"]
        with _upload(request, query.get("format")) as (source, size, file_format):
            if query["async"] or size > settings.HITL_IMPORT_SYNC_MAX_BYTES:
                with transaction.atomic():
                    job = imports.queue_import(
                        project=project,
                        raw=source,
                        file_format=file_format,
                        user=request.user,
                        on_duplicate=on_duplicate,
                    )
                return Response(s.ImportJobOutput(job).data, status=status.HTTP_202_ACCEPTED)
            imported = imports.import_items(
                project=project,
                raw=source,
                file_format=file_format,
                actor=request.user,
                on_duplicate=on_duplicate,
            )
        body = {
            "created": imported.created,
            "updated": imported.updated,
            "skipped": imported.skipped,
            "answers": imported.answers,
            "detail": imported.summary(),
        }
        return Response(body, status=status.HTTP_201_CREATED)


UPLOAD_IN_MEMORY_BYTES = 1024 * 1024  # a larger upload is spooled to a temporary file
_READ_BYTES = 256 * 1024


@contextmanager
def _upload(request: Request, declared: str | None) -> Iterator[tuple[IO[bytes], int, str]]:
    """The upload as a seekable binary file, its size and format, bounded by
    HITL_IMPORT_MAX_BYTES: a multipart `file` (Django keeps a large one on disk), or the body
    read a piece at a time into a temporary file, so a web process never holds an upload."""
    limit = settings.HITL_IMPORT_MAX_BYTES
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/form-data"):
        upload = request._request.FILES.get("file")
        if upload is None:
            raise DomainError("a multipart upload needs a 'file' part", field="file")
        # a multipart upload's size is always set (django-stubs allows None)
        size: int = upload.size  # type: ignore[assignment]
        if size > limit:
            raise PayloadTooLarge(f"the file is larger than {limit} bytes", field="file")
        upload.seek(0)
        # an UploadedFile passes read, readline, seek and tell on to its file
        source = cast(IO[bytes], upload)
        yield source, size, declared or _format_or_error(upload.content_type, upload.name)
        return
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
        raise PayloadTooLarge(f"the upload is larger than {limit} bytes")
    file_format = declared or _format_or_error(content_type, None)
    with tempfile.SpooledTemporaryFile(UPLOAD_IN_MEMORY_BYTES) as spool:
        size = 0
        while piece := request._request.read(_READ_BYTES):
            size += len(piece)
            if size > limit:
                raise PayloadTooLarge(f"the upload is larger than {limit} bytes")
            spool.write(piece)
        spool.seek(0)
        yield spool, size, file_format


def _format_or_error(content_type: str | None, filename: str | None) -> str:
    if file_format := parsing.format_for(content_type, filename):
        return file_format
    raise DomainError(
        "unknown upload format: send application/json, application/x-ndjson or text/csv, "
        "name the file .json/.jsonl/.csv, or pass ?format=",
        field="format",
    )


class ImportJobDetailApi(ApiView):
    @extend_schema(responses=s.ImportJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(s.ImportJobOutput(access.import_job_for(request.user, job_id)).data)


class ItemListApi(ApiView):
    """The project's items that pass the filters, in id order, a keyset page at a time."""

    pagination_class = KeysetPagination
    query_class = s.ItemFilterInput
    query: s.ItemFilterInput

    @extend_schema(responses=s.ItemOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        items = selectors.filtered_items(project, self.query.item_filter()).order_by("id")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(s.ItemOutput(page, many=True).data)


class ItemDetailApi(ApiView):
    @extend_schema(responses=s.ItemOutput)
    def get(self, request: Request, item_id: int) -> Response:
        item = access.item_for(request.user, item_id, at_least=Role.REVIEWER)
        return Response(s.ItemOutput(item).data)


def _served(item: Item, project: Project | None = None) -> dict:
    """An item as the annotation page gets it. `prediction` is the serving model's suggestion
    when the project shows them; never on an evaluation draw (that sample stays unbiased)."""
    evaluation = getattr(item, "evaluation", False)
    prediction = getattr(item, "prediction", None)
    if project is None or not project.show_predictions or evaluation:
        prediction = None
    return {
        "id": item.id,
        "external_id": item.external_id,
        "data": item.data,
        "prediction": prediction,
        "evaluation": evaluation,
    }


class NextItemApi(ApiView):
    query_class = s.NextQuery

    @extend_schema(responses={200: s.ServedItemOutput, 204: None})
    def get(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id)
        if self.query.validated_data["resume"]:
            shown = self.query.validated_data.get("shown")
            item = services.resumed_item_for(project=project, user=request.user, shown=shown)
        else:
            item = services.next_item_for(project=project, user=request.user)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(_served(item, project))


class AnnotationCreateApi(ApiView):
    @extend_schema(request=s.AnnotationInput, responses={201: s.AnnotationOutput, **refusals(409)})
    def post(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id)
        payload = s.AnnotationInput(data=request.data)
        payload.is_valid(raise_exception=True)
        annotation = services.submit_annotation(
            item=item, annotator=request.user, **payload.validated_data
        )
        return Response(s.annotation_out(annotation), status=status.HTTP_201_CREATED)


class ItemSkipApi(ApiView):
    @extend_schema(request=s.SkipInput, responses={201: s.AnnotationOutput, **refusals(409)})
    def post(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id)
        payload = s.SkipInput(data=request.data)
        payload.is_valid(raise_exception=True)
        annotation = services.skip_item(item=item, annotator=request.user, **payload.validated_data)
        return Response(s.annotation_out(annotation), status=status.HTTP_201_CREATED)


class ItemReviewApi(ApiView):
    """A verdict on the item: its final labels from now on (reviewers and admins), which win
    over its answers in the export and in training (annotation.reviews)."""

    @extend_schema(request=s.ReviewInput, responses={201: s.ReviewOutput})
    def post(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id, at_least=Role.REVIEWER)
        payload = s.ReviewInput(data=request.data)
        payload.is_valid(raise_exception=True)
        review = reviews.relabel(item=item, reviewer=request.user, **payload.validated_data)
        return Response(s.ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class ReviewNextApi(ApiView):
    """The project's next item up for review after the cursor, with why, every answer, the
    consensus, the model's prediction and the item's history (reviewers and admins); 204
    when none is. The verdict is a POST to the item's review/."""

    query_class = s.ReviewNextQuery

    @extend_schema(responses={200: s.ReviewSheetOutput, 204: None})
    def get(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        found = review_queue.next_for_review(project, after=self.query.validated_data.get("after"))
        if found is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(s.ReviewSheetOutput(review_queue.review_sheet(project, found)).data)


class ItemGoldApi(ApiView):
    """Mark the item gold with its known labels, or not gold any more (admins): gold items
    are served unannounced to measure annotators, and their labels are their truth."""

    @extend_schema(request=s.GoldInput, responses=s.ItemOutput)
    def post(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id, at_least=Role.ADMIN)
        payload = s.GoldInput(data=request.data)
        payload.is_valid(raise_exception=True)
        marked = gold.mark(item=item, actor=request.user, **payload.validated_data)
        return Response(s.ItemOutput(marked).data)

    @extend_schema(responses={200: s.ItemOutput})
    def delete(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id, at_least=Role.ADMIN)
        return Response(s.ItemOutput(gold.unmark(item=item, actor=request.user)).data)


class ItemHistoryApi(ApiView):
    """What happened to the item, oldest first: its import, each answer (and whether it was
    changed since), each verdict from which labels to which (reviewers and admins; answers
    as "annotator 1"... for reviewers where the project anonymizes reviews)."""

    @extend_schema(responses=s.HistoryEventOutput(many=True))
    def get(self, request: SignedInRequest, item_id: int) -> Response:
        item = access.item_for(request.user, item_id, at_least=Role.REVIEWER)
        row: dict = {"id": item.id}
        selectors.add_answers(item.project, [row])
        if item.project.my_role == Role.REVIEWER and item.project.anonymize_reviews:
            selectors.anonymize(row["annotations"])
        events = selectors.item_history(item, row["annotations"])
        return Response(s.HistoryEventOutput(events, many=True).data)


class MyAnswersApi(ApiView):
    """Your own latest answers in the project (skips too), newest first, with their items:
    the labelling page's history, from which an answer is changed by posting it again."""

    query_class = s.MyAnswersQuery

    @extend_schema(responses=s.MyAnswerOutput(many=True))
    def get(self, request: SignedInRequest, project_id: int) -> Response:
        project = access.project_for(request.user, project_id)
        limit = self.query.validated_data["limit"]
        answers = selectors.recent_answers_of(request.user, project, limit=limit)
        return Response(s.MyAnswerOutput(answers, many=True).data)


class AnnotationUndoApi(ApiView):
    """Delete one of your own annotations; the item is leased back to you and returned."""

    @extend_schema(responses=s.ServedItemOutput)
    def delete(self, request: Request, annotation_id: int) -> Response:
        annotation = access.own_annotation_for(request.user, annotation_id)
        item = services.undo_annotation(annotation=annotation)
        return Response(_served(item))


class ProjectExportApi(ApiView):
    """The items that pass the filters (all by default) with their agreed labels and answers."""

    query_class = s.ExportQuery
    query: s.ExportQuery

    @extend_schema(responses=downloads(exports.CONTENT_TYPES))
    def get(self, request: Request, project_id: int):
        project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
        file_format = self.query.validated_data["format"]
        filters = self.query.item_filter()
        return attachment(
            exports.export_stream(project, file_format, filters, actor=request.user),
            content_type=exports.CONTENT_TYPES[file_format],
            filename=f"project-{project.id}.{file_format}",
        )


class AuditListApi(ApiView):
    """The project's audit log, newest first, paginated (admins)."""

    pagination_class = Pagination

    @extend_schema(responses=s.AuditEventOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(audit.events_of(project.id), request, view=self)
        # a page, never None: REST_FRAMEWORK's PAGE_SIZE is set
        events = [audit.as_dict(event) for event in page]  # type: ignore[union-attr]
        return paginator.get_paginated_response(events)


class AuditExportApi(ApiView):
    """The project's whole audit log, oldest first, as JSON Lines or CSV (admins)."""

    query_class = s.AuditExportQuery

    @extend_schema(responses=downloads(audit.CONTENT_TYPES))
    def get(self, request: Request, project_id: int):
        project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
        file_format = self.query.validated_data["format"]
        return attachment(
            audit.export_stream(project.id, file_format),
            content_type=audit.CONTENT_TYPES[file_format],
            filename=f"project-{project.id}-audit.{file_format}",
        )
