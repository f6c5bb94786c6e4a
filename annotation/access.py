"""One gate per resource: the caller's membership decides, and a stranger sees only 404.

Views never filter by owner themselves; they ask here. A member whose role is too low gets
403 (they know the project exists); anyone else gets 404 whether the row exists or not.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404

from annotation.models import Annotation, ImportJob, Item, Membership, Project

Role = Membership.Role
_RANK = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def role_in(user: AbstractBaseUser, project_id: int) -> str | None:
    """Return the user's role in the project, or None for a non-member."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, project_id=project_id)
        .values_list("role", flat=True)
        .first()
    )


def _require(role: str | None, at_least: str) -> None:
    if role is None:
        raise Http404("no such project")
    if _RANK[role] < _RANK[at_least]:
        raise PermissionDenied(f"this needs the {at_least} role in the project")


def project_for(
    user: AbstractBaseUser, project_id: int, *, at_least: str = Role.ANNOTATOR
) -> Project:
    """Return the project if the user's role is at least `at_least` (one query)."""
    membership = (
        Membership.objects.select_related("project")
        .filter(user_id=user.id, project_id=project_id)
        .first()
        if user.is_authenticated
        else None
    )
    _require(membership.role if membership else None, at_least)
    membership.project.my_role = membership.role
    return membership.project


def item_for(user: AbstractBaseUser, item_id: int, *, at_least: str = Role.ANNOTATOR) -> Item:
    """Return the item (with its project) if the user's role in its project is high enough."""
    item = (
        Item.objects.select_related("project")
        .filter(id=item_id, project__memberships__user_id=user.id)
        .annotate(my_role=F("project__memberships__role"))
        .first()
        if user.is_authenticated
        else None
    )
    _require(item.my_role if item else None, at_least)
    return item


def own_annotation_for(user: AbstractBaseUser, annotation_id: int) -> Annotation:
    """Return one of the user's own annotations in a project they still belong to."""
    annotation = (
        Annotation.objects.select_related("item__project")
        .filter(id=annotation_id, annotator_id=user.id)
        .first()
    )
    _require(role_in(user, annotation.item.project_id) if annotation else None, Role.ANNOTATOR)
    return annotation


def import_job_for(user: AbstractBaseUser, job_id: int) -> ImportJob:
    """Return an import job of a project the user administers."""
    job = ImportJob.objects.defer("payload").filter(id=job_id).first()
    _require(role_in(user, job.project_id) if job else None, Role.ADMIN)
    return job
