"""Browser pages: server-rendered, each checked through annotation.access like the API."""

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from annotation import (
    access,
    agreement,
    annotators,
    audit,
    gold,
    reviews,
    selectors,
    services,
    tokens,
)
from annotation.api.annotators import AnnotatorReportOutput
from annotation.api.serializers import BrowseQuery
from annotation.errors import DomainError
from annotation.models import Annotation, Item, Label, Membership, Project
from annotation.ui.forms import MemberForm, ProjectForm, label_lines, stopping_initial
from hitl.converters import DatabaseId
from hitl.requests import SignedInHttpRequest

Role = Membership.Role


def _remove_member(request: SignedInHttpRequest, project) -> None:
    membership = project.memberships.filter(user_id=request.POST.get("user_id")).first()
    if membership is None:
        return
    try:
        services.remove_member(membership=membership, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)


def _add_domain_error(form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
def project_list(request: SignedInHttpRequest) -> HttpResponse:
    projects = list(selectors.projects_of(request.user).order_by("id"))
    progress = selectors.progress_of(projects)
    rows = [{"project": project, "progress": progress[project.id]} for project in projects]
    context = {"rows": rows, "may_create": access.may_create_projects(request.user)}
    return render(request, "annotation/projects.html", context)


BROWSE_PAGE_SIZE = 50
# The data browser's columns (key, heading); the page's script hides those a person unticks.
BROWSER_COLUMNS = [
    ("id", "ID"),
    ("text", "Text"),
    ("status", "Status"),
    ("answers", "Answers"),
    ("labels", "Labels"),
    ("predicted", "Predicted"),
    ("confidence", "Confidence"),
    ("annotators", "Annotators"),
    ("flags", "Flags"),
    ("created", "Created (UTC)"),
]
_CURSORS = ("after", "before")


@login_required
def project_page(request: SignedInHttpRequest, project_id: int) -> HttpResponse:
    """The project's home: its screens and the data browser (reviewers and admins
    see every item; an annotator the items they answered). The filter lives in the URL."""
    project = access.project_for(request.user, project_id)
    sees_all = project.my_role in (Role.ADMIN, Role.REVIEWER)
    sees_model = sees_all or project.show_predictions
    query = BrowseQuery(data={k: v for k, v in request.GET.items() if k not in _CURSORS})
    errors: dict | None
    if not query.is_valid():
        page, errors = None, dict(query.errors)
    elif not sees_all and (refused := _not_an_annotators_filter(query.item_filter(), sees_model)):
        page, errors = None, refused
    else:
        filters = query.item_filter()
        viewer = request.user.get_username()
        if not sees_all:
            filters = dataclasses.replace(filters, annotator=viewer)
        newest_first = query.validated_data.get("order") == "newest"
        page = selectors.browse(
            project,
            filters,
            size=BROWSE_PAGE_SIZE,
            newest_first=newest_first,
            **_cursor(request),
        )
        if not sees_all:  # an annotator: their own work only
            for row in page.items:
                selectors.keep_own_work(row, viewer)
                if not sees_model:
                    row.update(predicted=None, confidence=None)
        errors = None
    kept = {k: v for k, v in request.GET.items() if k not in _CURSORS and v}
    context = {
        "project": project,
        "sees_all": sees_all,
        "page": page,
        "errors": errors,
        "values": kept,
        "statuses": Item.Status.choices,
        "flags": selectors.FLAGS if sees_all else ANNOTATORS_FLAGS,
        "sees_model": sees_model,
        "labels": list(project.labels.values_list("name", flat=True)),
        "filter_query": urlencode(kept),
        "export_query": urlencode({k: v for k, v in kept.items() if k != "order"}),
        "columns": BROWSER_COLUMNS,
    }
    return render(request, "annotation/project.html", context, status=400 if errors else 200)


ANNOTATORS_FLAGS = ("ambiguous", "needs_expert", "skipped")  # of their own answers


def _not_an_annotators_filter(filters: selectors.ItemFilter, sees_model: bool) -> dict:
    """The filters an annotator may not use, with why: verdicts and gold are not theirs to
    read, nor the model's predictions where the project does not show them."""
    refused = {}
    if filters.flag is not None and filters.flag not in ANNOTATORS_FLAGS:
        refused["flag"] = ["annotators filter their own answers' flags only"]
    if not sees_model and (filters.predicted or filters.max_confidence is not None):
        refused["predicted"] = ["this project does not show the model's predictions"]
    return refused


def _cursor(request: HttpRequest) -> dict[str, int]:
    for name in _CURSORS:
        value = request.GET.get(name, "")
        if value.isascii() and value.isdigit() and int(value) <= DatabaseId.LARGEST:
            return {name: int(value)}
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def item_page(request: SignedInHttpRequest, project_id: int, item_id: int) -> HttpResponse:
    """One item whole: every data field, every answer with who, when, how long and the
    flags, its labels, the model's prediction and its history (reviewers and admins, the
    answers anonymized for reviewers where the project says so; annotators their own answers
    to items they answered). Reviewers and admins relabel it here: their verdict."""
    project = access.project_for(request.user, project_id)
    item = get_object_or_404(Item, project=project, id=item_id)
    may_relabel = project.my_role in (Role.ADMIN, Role.REVIEWER)
    error = None
    if request.method == "POST":
        action = request.POST.get("action", "relabel")
        if not may_relabel or (action != "relabel" and project.my_role != Role.ADMIN):
            raise PermissionDenied("only reviewers and admins relabel items, admins mark gold")
        try:
            done = _change_item(request, item, action)
        except DomainError as refused:
            error = refused.message
        else:
            messages.success(request, done)
            return redirect("item", project_id=project.id, item_id=item.id)
    row: dict[str, Any] = {"id": item.id}
    selectors.add_answers(project, [row])
    viewer = request.user.get_username()
    answered = any(a["annotator"] == viewer for a in row["annotations"])
    if project.my_role == Role.ANNOTATOR and not answered:
        raise Http404("no such item")
    if project.my_role == Role.ANNOTATOR:  # their own work only: no one else's answer or name
        selectors.keep_own_work(row, viewer)
    elif project.my_role == Role.REVIEWER and project.anonymize_reviews:
        selectors.anonymize(row["annotations"])
    fields = sorted(item.data.items(), key=lambda field: (field[0] != "text", field[0]))
    context = {
        "project": project,
        "item": item,
        "fields": fields,
        "row": row,
        "prediction": selectors.prediction_of(project, item.id)
        if may_relabel or project.show_predictions
        else None,
        "sees_all": may_relabel,
        "history": selectors.item_history(
            item, row["annotations"], verdicts=project.my_role != Role.ANNOTATOR
        ),
        "may_relabel": may_relabel,
        "labels": list(project.labels.values_list("name", flat=True)),
        "multi": project.is_multi_label,
        "error": error,
    }
    return render(request, "annotation/item.html", context, status=400 if error else 200)


def _change_item(request: SignedInHttpRequest, item: Item, action: str) -> str:
    """The item page's forms: a verdict (reviewers, admins), gold labels (admins)."""
    labels = request.POST.getlist("labels")
    if action == "gold":
        gold.mark(item=item, labels=labels, actor=request.user)
        return "Marked gold: annotators are served it unannounced, and scored against it."
    if action == "ungold":
        gold.unmark(item=item, actor=request.user)
        return "Not gold any more."
    reviews.relabel(
        item=item,
        reviewer=request.user,
        labels=labels,
        comment=request.POST.get("comment", "")[:5_000],
    )
    return "Relabelled: your labels are now the item's."


@login_required
def import_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Upload a file of items (admins): the page sends it to the import API (import.js)."""
    project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
    context = {
        "project": project,
        "config": {"id": project.id},
        "sync_max_mb": settings.HITL_IMPORT_SYNC_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "annotation/import.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: SignedInHttpRequest) -> HttpResponse:
    access.require_project_creator(request.user)
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(creator=request.user, **form.cleaned_data)
        except DomainError as error:
            _add_domain_error(form, error)
        else:
            return redirect("project-import", project_id=project.id)  # items come next
    return render(request, "annotation/project_new.html", {"form": form})


def _labels_config(project: Project, labels: list[Label]) -> dict[str, Any]:
    """What a page's script needs to pick labels by key: the labelling and review pages'."""
    return {
        "id": project.id,
        "multi": project.is_multi_label,
        "labels": [
            {"name": label.name, "shortcut": label.shortcut, "color": label.color}
            for label in labels
        ],
    }


@login_required
def label_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = access.project_for(request.user, project_id)
    labels = list(project.labels.all())
    config = _labels_config(project, labels) | {"empty": not project.items.exists()}
    context = {
        "project": project,
        "labels": labels,
        "config": config,
        "skip_reasons": Annotation.SkipReason.choices,  # X then 1-4 on the page
    }
    return render(request, "annotation/label.html", context)


@login_required
def review_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The review queue, an item at a time (reviewers and admins): review.js reads it from
    the review API and posts each verdict to the item's review API."""
    project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
    labels = list(project.labels.all())
    context = {"project": project, "labels": labels, "config": _labels_config(project, labels)}
    return render(request, "annotation/review.html", context)


@login_required
def dashboard(request: HttpRequest, project_id: int) -> HttpResponse:
    """Learning curve, labels, the round in flight and the stopping rule (drawn by
    dashboard.js from the learning API, which it polls)."""
    project = access.project_for(request.user, project_id)
    config = {"id": project.id, "admin": project.my_role == Role.ADMIN}
    return render(request, "annotation/dashboard.html", {"project": project, "config": config})


@login_required
def annotators_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """How each annotator works (reviewers and admins): a table, and the plots annotators.js
    draws from the same figures, which the API gives too."""
    project = access.project_for(request.user, project_id, at_least=Role.REVIEWER)
    report = AnnotatorReportOutput(annotators.annotator_report(project)).data
    reasons = dict(Annotation.SkipReason.choices) | {"none": "no reason"}
    for person in report["annotators"]:
        person["skip_words"] = ", ".join(
            f"{reasons.get(reason, reason).lower()} {n}"
            for reason, n in person["skip_reasons"].items()
        )
    warned = any(person["bias"] or person["trend_warning"] for person in report["annotators"])
    matrices = [
        (person["username"], _shaded(person["estimated_confusion"]))
        for person in report["annotators"]
        if person["estimated_confusion"]
    ]
    context = {
        "project": project,
        "report": report,
        "warned": warned,
        "matrices": matrices,
        "min_shared": agreement.MIN_SHARED_ITEMS,
    }
    return render(request, "annotation/annotators.html", context)


def _shaded(confusion: dict[str, dict[str, float]]) -> dict:
    """A confusion matrix for the page: the answered labels, and per true label each cell's
    percent with a shade from 0 (never) to 4 (always), in quarters; CSS classes, as CSP
    allows no inline style."""
    answered = list(next(iter(confusion.values())))
    rows = [
        (truth, [(round(share * 100), round(share * 4)) for share in row.values()])
        for truth, row in confusion.items()
    ]
    return {"answered": answered, "rows": rows}


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request: SignedInHttpRequest, project_id: int) -> HttpResponse:
    project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
    initial = {
        "name": project.name,
        "task_type": project.task_type,
        "overlap": project.overlap,
        "instructions": project.instructions,
        "labels": label_lines(project),
        "model": project.model,
        "strategy": project.strategy,
        "retrain_every": project.retrain_every,
        "eval_share": project.eval_share,
        "eval_sample_size": project.eval_sample_size,
        "show_predictions": project.show_predictions,
        "consensus": project.consensus,
        "max_overlap": project.max_overlap,
        "consensus_threshold": project.consensus_threshold,
        "agreement_sample": project.agreement_sample,
        "gold_share": project.gold_share,
        "review_sample": project.review_sample,
        "anonymize_reviews": project.anonymize_reviews,
        "label_issue_cap": project.label_issue_cap,
        "hourly_cost": project.hourly_cost,
        **stopping_initial(project.stopping_rule),
    }
    action = request.POST.get("action")
    settings_form = ProjectForm(request.POST if action == "settings" else None, initial=initial)
    member_form = MemberForm(request.POST if action == "member" else None)
    try:
        if action == "settings" and settings_form.is_valid():
            services.update_project(
                project=project, actor=request.user, **settings_form.cleaned_data
            )
            return redirect("project-settings", project_id=project.id)
        if action == "member" and member_form.is_valid():
            user = access.user_to_add(request.user, member_form.cleaned_data["username"])
            role = member_form.cleaned_data["role"]
            services.set_member(project=project, user=user, role=role, actor=request.user)
            return redirect("project-settings", project_id=project.id)
        if action == "remove":
            _remove_member(request, project)
            return redirect("project-settings", project_id=project.id)
    except DomainError as error:
        _add_domain_error(settings_form if action == "settings" else member_form, error)
    members = project.memberships.select_related("user").order_by("user__username")
    context = {
        "project": project,
        "settings_form": settings_form,
        "member_form": member_form,
        "members": members,
        "roles": Role.choices,
    }
    return render(request, "annotation/settings.html", context, status=400 if action else 200)


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request: SignedInHttpRequest) -> HttpResponse:
    """The person's own API token: issue a new one (its key shown this once) or revoke it."""
    action, key = request.POST.get("action"), None
    if action == "issue":
        key, _ = tokens.issue(user=request.user)
    elif action == "revoke":
        tokens.revoke(user=request.user)
        messages.success(request, "Your API token is revoked: it no longer works.")
        return redirect("token")
    elif action is not None:
        return HttpResponse("unknown action: use issue or revoke", status=400)
    token = tokens.current(user=request.user)
    context = {"token": token, "key": key, "expires_at": token and tokens.expires_at(token)}
    response = render(request, "annotation/token.html", context)
    if key:
        response["Cache-Control"] = "no-store"  # the key is on this page only
    return response


@login_required
def audit_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's audit log, newest first, a hundred a page (admins)."""
    project = access.project_for(request.user, project_id, at_least=Role.ADMIN)
    page = Paginator(audit.events_of(project.id), 100).get_page(request.GET.get("page"))
    rows = [{"event": event, "details": _described(event.details)} for event in page]
    context = {"project": project, "page": page, "rows": rows}
    return render(request, "annotation/audit.html", context)


def _described(details: dict) -> str:
    """An event's details in words: `setting: before → after` for changes, `key: value`."""
    parts = []
    for key, value in details.items():
        if key == "changes":
            parts += [
                f"{name}: {_shown(old)} → {_shown(new)}" for name, (old, new) in value.items()
            ]
        else:
            parts.append(f"{key}: {_shown(value)}")
    return "; ".join(parts)


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
