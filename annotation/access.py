"""One gate per resource: the caller's membership decides, and a stranger sees only 404.

Views never filter by owner themselves; they ask here. A member whose role is too low gets
403 (they know the project exists); anyone else gets 404 whether the row exists or not.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef
from django.http import Http404

from annotation import rows
from annotation.errors import DomainError
from annotation.models import Annotation, ImportJob, Item, Membership, Project

Role = Membership.Role
_RANK: dict[str, int] = {Role.ANNOTATOR: 1, Role.REVIEWER: 2, Role.ADMIN: 3}


def role_in(user: User | AnonymousUser, project_id: int) -> str | None:
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


# Both gates run on every click: one plain query each, the row turned into models directly
# (measured: 0.15 ms of CPU, against 0.45 ms through `raw()` and 1.9 ms through the ORM).
_PROJECT_WITH_ROLE = f"""
    SELECT {rows.columns(Project, "p")}, m.role FROM {Membership._meta.db_table} m
    JOIN {Project._meta.db_table} p ON p.id = m.project_id
    WHERE m.user_id = %s AND m.project_id = %s
"""
_ITEM_WITH_PROJECT_AND_ROLE = f"""
    SELECT {rows.columns(Item, "i")}, {rows.columns(Project, "p")}, m.role
    FROM {Item._meta.db_table} i
    JOIN {Project._meta.db_table} p ON p.id = i.project_id
    JOIN {Membership._meta.db_table} m ON m.project_id = i.project_id AND m.user_id = %s
    WHERE i.id = %s
"""
_ITEM_WIDTH = len(Item._meta.concrete_fields)


def project_for(
    user: User | AnonymousUser, project_id: int, *, at_least: str = Role.ANNOTATOR
) -> Project:
    """Return the project (with `my_role`) if the user's role is at least `at_least`."""
    row = _first_row(_PROJECT_WITH_ROLE, user, project_id)
    _require(row[-1] if row else None, at_least)
    assert row is not None  # _require raised 404 otherwise
    project = rows.instance(Project, row[:-1])
    project.my_role = row[-1]
    return project


def item_for(user: User | AnonymousUser, item_id: int, *, at_least: str = Role.ANNOTATOR) -> Item:
    """Return the item (its project attached) if the user's role in that project is high enough."""
    row = _first_row(_ITEM_WITH_PROJECT_AND_ROLE, user, item_id)
    _require(row[-1] if row else None, at_least)
    assert row is not None  # _require raised 404 otherwise
    item = rows.instance(Item, row[:_ITEM_WIDTH])
    item.project = rows.instance(Project, row[_ITEM_WIDTH:-1])
    item.project.my_role = row[-1]
    return item


def _first_row(sql: str, user: User | AnonymousUser, object_id: int) -> tuple | None:
    if not user.is_authenticated:
        return None
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.id, object_id])
        return cursor.fetchone()


def own_annotation_for(user: User | AnonymousUser, annotation_id: int) -> Annotation:
    """Return one of the user's own annotations in a project they still belong to."""
    annotation = (
        Annotation.objects.select_related("item__project")
        .filter(id=annotation_id, annotator_id=user.id)
        .first()
    )
    _require(role_in(user, annotation.item.project_id) if annotation else None, Role.ANNOTATOR)
    assert annotation is not None  # _require raised 404 otherwise
    return annotation


def import_job_for(user: User | AnonymousUser, job_id: int) -> ImportJob:
    """Return an import job of a project the user administers."""
    job = ImportJob.objects.filter(id=job_id).first()
    _require(role_in(user, job.project_id) if job else None, Role.ADMIN)
    assert job is not None  # _require raised 404 otherwise
    return job


def may_create_projects(user: User | AnonymousUser) -> bool:
    """Whether HITL_PROJECT_CREATORS lets the user create a project: any signed-in user
    (the default), or staff only."""
    if not user.is_authenticated:
        return False
    return settings.HITL_PROJECT_CREATORS == "any" or user.is_staff


def require_project_creator(user: User | AnonymousUser) -> None:
    """403 unless the user may create projects."""
    if not may_create_projects(user):
        raise PermissionDenied("only staff may create projects here (HITL_PROJECT_CREATORS=staff)")


def user_to_add(caller: User, username: str) -> User:
    """Return the user named `username` if the caller may see them, for adding to a project.

    Staff see everyone; anyone else sees the people they share a project with (whom they
    meet in its member list, its export, its answers). A name nobody has and a person the
    caller may not see get the same answer, in the same one query, so a project admin, and
    anyone may become one, cannot probe which usernames exist.
    """
    users = get_user_model().objects.filter(username=username)
    if not caller.is_staff:
        shared = Membership.objects.filter(user=OuterRef("pk"), project__memberships__user=caller)
        users = users.filter(Exists(shared))
    user = users.first()
    if user is None:
        raise DomainError(
            f"no user named {username!r} among the people you can add (those who share a "
            "project with you; staff can add anyone)",
            field="username",
        )
    return user
