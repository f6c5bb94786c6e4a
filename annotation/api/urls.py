from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.api import annotators, tokens, views

urlpatterns = [
    path("auth/token/", tokens.TokenObtainApi.as_view(), name="api-token"),
    path("me/token/", tokens.MyTokenApi.as_view(), name="api-my-token"),
    path("projects/", views.ProjectListCreateApi.as_view(), name="api-projects"),
    path("projects/<id:project_id>/", views.ProjectDetailApi.as_view(), name="api-project"),
    path(
        "projects/<id:project_id>/progress/",
        views.ProjectProgressApi.as_view(),
        name="api-project-progress",
    ),
    path(
        "projects/<id:project_id>/members/",
        views.MemberListCreateApi.as_view(),
        name="api-members",
    ),
    path(
        "projects/<id:project_id>/members/<id:user_id>/",
        views.MemberDeleteApi.as_view(),
        name="api-member",
    ),
    path(
        "projects/<id:project_id>/agreement/",
        views.ProjectAgreementApi.as_view(),
        name="api-agreement",
    ),
    path(
        "projects/<id:project_id>/annotators/",
        annotators.AnnotatorListApi.as_view(),
        name="api-annotators",
    ),
    path(
        "projects/<id:project_id>/label-issues/",
        views.LabelIssueListApi.as_view(),
        name="api-label-issues",
    ),
    path("projects/<id:project_id>/audit/", views.AuditListApi.as_view(), name="api-audit"),
    path(
        "projects/<id:project_id>/audit/export/",
        views.AuditExportApi.as_view(),
        name="api-audit-export",
    ),
    path("projects/<id:project_id>/items/", views.ItemListApi.as_view(), name="api-items"),
    path(
        "projects/<id:project_id>/items/import/", views.ItemImportApi.as_view(), name="api-import"
    ),
    path("projects/<id:project_id>/next/", views.NextItemApi.as_view(), name="api-next"),
    path(
        "projects/<id:project_id>/review/next/",
        views.ReviewNextApi.as_view(),
        name="api-review-next",
    ),
    path(
        "projects/<id:project_id>/my-answers/",
        views.MyAnswersApi.as_view(),
        name="api-my-answers",
    ),
    path("projects/<id:project_id>/export/", views.ProjectExportApi.as_view(), name="api-export"),
    path("imports/<id:job_id>/", views.ImportJobDetailApi.as_view(), name="api-import-job"),
    path("items/<id:item_id>/", views.ItemDetailApi.as_view(), name="api-item"),
    path(
        "items/<id:item_id>/annotations/", views.AnnotationCreateApi.as_view(), name="api-annotate"
    ),
    path("items/<id:item_id>/skip/", views.ItemSkipApi.as_view(), name="api-skip"),
    path("items/<id:item_id>/review/", views.ItemReviewApi.as_view(), name="api-review"),
    path("items/<id:item_id>/history/", views.ItemHistoryApi.as_view(), name="api-history"),
    path("items/<id:item_id>/gold/", views.ItemGoldApi.as_view(), name="api-gold"),
    path(
        "annotations/<id:annotation_id>/", views.AnnotationUndoApi.as_view(), name="api-annotation"
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, not inline, for the CSP.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="annotation/api_docs.html"
        ),
        name="api-docs",
    ),
]
