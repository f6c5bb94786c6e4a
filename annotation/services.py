"""The verbs of annotation: create projects, add members, serve the next item, record labels.

API views, pages, tasks and commands all call these; none of them writes these rows itself.
"""

import random

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation import answers, audit, consensus, judging, queue, selectors
from annotation.errors import Conflict, DomainError, InvalidLabels, InvalidSettings
from annotation.events import announce_after_commit, answers_recorded
from annotation.models import Annotation, AuditEvent, Item, Label, Lease, Membership, Project

PALETTE = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
]


# --- projects and members ---------------------------------------------------------------


# Keys the labelling page keeps for itself (static/annotation/label.js): a label cannot take
# one, or pressing it would do both things.
PAGE_KEYS = {
    "s": "skip",
    "x": "skip with a reason",
    "a": "take the suggestion",
    "m": "mark ambiguous",
    "e": "needs an expert",
    "/": "find a label",
    " ": "space",
}


def _label_specs(labels: list[dict]) -> list[dict]:
    """Fill in default shortcut (1-9 by position) and colour; reject duplicate names or keys."""
    specs, names, keys = [], set(), set()
    for position, raw in enumerate(labels):
        spec = {
            "name": raw["name"].strip(),
            "shortcut": raw.get("shortcut", str(position + 1) if position < 9 else ""),
            "color": raw.get("color") or PALETTE[position % len(PALETTE)],
            "order": position,
        }
        if not spec["name"]:
            raise InvalidLabels("a label name cannot be blank", field="labels")
        if spec["name"] in names:
            raise InvalidLabels(f"label {spec['name']!r} is listed twice", field="labels")
        if spec["shortcut"] and spec["shortcut"] in keys:
            raise InvalidLabels(f"shortcut {spec['shortcut']!r} is used twice", field="labels")
        if spec["shortcut"].lower() in PAGE_KEYS:
            raise InvalidLabels(
                f"shortcut {spec['shortcut']!r} is the labelling page's own key "
                f"({PAGE_KEYS[spec['shortcut'].lower()]}): pick another",
                field="labels",
            )
        names.add(spec["name"])
        keys.add(spec["shortcut"])
        specs.append(spec)
    return specs


@transaction.atomic
def create_project(
    *,
    creator: User,
    name: str,
    labels: list[dict],
    task_type: str = Project.TaskType.SINGLE_LABEL,
    overlap: int = 1,
    instructions: str = "",
    **learning,
) -> Project:
    """Create a project with its labels; the creator becomes its admin. `learning` holds the
    engine's settings (model, strategy, retrain_every, eval_share, ...), defaults otherwise."""
    specs = _label_specs(labels)
    project = Project(
        name=name,
        task_type=task_type,
        overlap=overlap,
        instructions=instructions,
        created_by=creator,
        **learning,
    )
    _check_settings(project)
    project.save()
    Label.objects.bulk_create(Label(project=project, **spec) for spec in specs)
    Membership.objects.create(user=creator, project=project, role=Membership.Role.ADMIN)
    audit.record(project=project, actor=creator, action=AuditEvent.Action.PROJECT_CREATED)
    return project


@transaction.atomic
def update_project(
    *,
    project: Project,
    actor: User | None = None,
    labels: list[dict] | None = None,
    **fields,
) -> Project:
    """Change settings; `labels`, when given, is the whole new list (matched by name).

    Removing a label that annotations use is refused (409): it would silently change answers.
    Changing the overlap re-opens or closes items at once. What changed, [before, after] per
    setting, goes to the audit log under `actor` (None: a command).
    """
    if "task_type" in fields and fields["task_type"] != project.task_type:
        if Annotation.objects.filter(item__project=project, skipped=False).exists():
            raise Conflict("the task type cannot change once items are labelled", field="task_type")
    before = {name: getattr(project, name) for name in fields}
    for name, value in fields.items():
        setattr(project, name, value)
    _check_settings(project)
    project.save()
    changes = {
        name: [before[name], value] for name, value in fields.items() if before[name] != value
    }
    if labels is not None:
        old_labels = _label_summary(project)
        _replace_labels(project, _label_specs(labels))
        if (new_labels := _label_summary(project)) != old_labels:
            changes["labels"] = [old_labels, new_labels]
    if "overlap" in fields:
        refresh_item_statuses(project=project)
    if changes:
        audit.record(
            project=project, actor=actor, action=AuditEvent.Action.PROJECT_UPDATED, changes=changes
        )
    return project


@transaction.atomic
def delete_project(*, project: Project, actor: User | None = None) -> None:
    """Delete the project with everything in it; the audit log keeps the deletion."""
    audit.record(project=project, actor=actor, action=AuditEvent.Action.PROJECT_DELETED)
    project.delete()


def _label_summary(project: Project) -> list[str]:
    """The labels as `name|key|colour`, in order: what the audit log compares."""
    return [f"{label.name}|{label.shortcut}|{label.color}" for label in project.labels.all()]


def _check_settings(project: Project) -> None:
    """Run the model's validators (ranges, the engine's choices, the stopping rule): the one
    check of a project's settings, whoever writes them (API, page, command)."""
    try:
        project.full_clean(exclude=["created_by"])
    except ValidationError as error:
        raise InvalidSettings(_field_errors(error)) from None


def _field_errors(error: ValidationError) -> list[dict]:
    """[{field, message}], a nested part of a field named as `field.key` (stopping_rule)."""
    found = []
    for name, errors in error.error_dict.items():
        for each in errors:
            key = (each.params or {}).get("key")
            field = f"{name}.{key}" if key else name
            found.append({"field": field, "message": each.messages[0]})
    return found


def _replace_labels(project: Project, specs: list[dict]) -> None:
    existing = {label.name: label for label in project.labels.all()}
    wanted = {spec["name"] for spec in specs}
    removed = [label for name, label in existing.items() if name not in wanted]
    used = Label.objects.filter(id__in=[label.id for label in removed], annotations__isnull=False)
    if used_names := sorted(set(used.values_list("name", flat=True))):
        raise Conflict(f"labels in use cannot be removed: {', '.join(used_names)}", field="labels")
    Label.objects.filter(id__in=[label.id for label in removed]).delete()
    # Clear shortcuts first so that swapping two keys does not trip the unique constraint.
    Label.objects.filter(project=project).update(shortcut="")
    for spec in specs:
        Label.objects.update_or_create(project=project, name=spec["name"], defaults=spec)


def refresh_item_statuses(*, project: Project) -> None:
    """Recompute every item's open/done status from its annotation count and the overlap."""
    answers.apply_overlap(project_id=project.id, overlap=project.overlap)


@transaction.atomic
def set_member(*, project: Project, user: User, role: str, actor: User | None = None) -> Membership:
    """Add a user to the project with `role`, or change their role; keeps at least one admin.

    Callers find the user through access.user_to_add, which decides whom they may add. An
    addition or a changed role goes to the audit log under `actor`.
    """
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership and membership.role == Membership.Role.ADMIN and role != membership.role:
        _keep_an_admin(project, leaving=membership)
    previous = membership.role if membership else None
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    if previous is None:
        action, details = AuditEvent.Action.MEMBER_ADDED, {"role": role}
    else:
        action, details = AuditEvent.Action.ROLE_CHANGED, {"from": previous, "to": role}
    if previous != role:
        audit.record(
            project=project, actor=actor, action=action, user=user.get_username(), **details
        )
    return membership


@transaction.atomic
def remove_member(*, membership: Membership, actor: User | None = None) -> None:
    """Take a user out of a project; their leases go, their annotations stay."""
    if membership.role == Membership.Role.ADMIN:
        _keep_an_admin(membership.project, leaving=membership)
    Lease.objects.filter(project=membership.project, user=membership.user).delete()
    membership.delete()
    audit.record(
        project=membership.project,
        actor=actor,
        action=AuditEvent.Action.MEMBER_REMOVED,
        user=membership.user.get_username(),
        role=membership.role,
    )


def _keep_an_admin(project: Project, *, leaving: Membership) -> None:
    admins = Membership.objects.select_for_update().filter(
        project=project, role=Membership.Role.ADMIN
    )
    if not admins.exclude(id=leaving.id).exists():
        raise Conflict("a project needs at least one admin", field="role")


# --- serving the next item --------------------------------------------------------------


def next_item_for(*, project: Project, user: User) -> Item | None:
    """Lease the next item in the project's queue to `user`; None when nothing is left for them.

    No two people hold the same item while its lease lives (overlap 1), nobody is served an
    item they answered, and an item with its required number of answers is not served.
    """
    now = timezone.now()
    if project.gold_share > 0 and random.random() < project.gold_share:
        gold = queue.next_gold_for(project_id=project.id, user_id=user.id, now=now)
        if gold is not None:
            return gold
    return queue.next_item_for(
        project_id=project.id,
        overlap=project.overlap,
        user_id=user.id,
        now=now,
        evaluation=_draw_for_evaluation(project),
    )


def resumed_item_for(*, project: Project, user: User, shown: int | None = None) -> Item | None:
    """The item `user` already holds (other than `shown`), else the next in the queue: a page
    that reloads picks up where its person was instead of leasing more."""
    held = queue.held_item_for(
        project_id=project.id, user_id=user.id, now=timezone.now(), shown=shown
    )
    return held or next_item_for(project=project, user=user)


def _draw_for_evaluation(project: Project) -> bool:
    """A random share of serves goes to the evaluation sample until it is big enough; the
    count is asked only on the draws that would go there."""
    if project.eval_share <= 0 or random.random() >= project.eval_share:
        return False
    return queue.evaluation_sample_size(project.id) < project.eval_sample_size


# --- recording answers -----------------------------------------------------------------


def _record(item: Item, annotator: User, *, labels: list[str], **fields) -> Annotation:
    """Write the annotator's answer, keep the item's count and status right, drop the lease."""
    overlap = item.project.overlap
    if item.gold is not None:
        overlap = _past_the_overlap(item)
    elif not fields["skipped"] and _answers_vary(item.project):
        overlap = _answers_wanted(item, annotator, labels)
    annotation = answers.record(
        item_id=item.id,
        project_id=item.project_id,
        annotator_id=annotator.id,
        overlap=overlap,
        label_names=labels,
        now=timezone.now(),
        **fields,
    )
    annotation.label_names = labels
    return annotation


def _past_the_overlap(item: Item) -> int:
    """A gold item takes every annotator's answer (it measures them): the count at which it
    is done, raised past the answers it has so that one more is no conflict."""
    count = (
        Item.objects.select_for_update()
        .filter(id=item.id)
        .values_list("annotation_count", flat=True)
    )
    return max(item.project.overlap, (count.first() or 0) + 1)


def _answers_vary(project: Project) -> bool:
    """Whether the project's items may want more answers than its overlap (dynamic overlap,
    or an agreement sample): only then does an answer cost the consensus check."""
    return (project.max_overlap or 0) > project.overlap or (
        project.agreement_sample > 0 and project.overlap < 2
    )


def _answers_wanted(item: Item, annotator: User, labels: list[str]) -> int:
    """The answer count at which the item is done, given this answer: the overlap (two for
    the agreement sample), or one more than it will have while its consensus stays unsure
    and it has fewer than `max_overlap` (annotation.consensus.wants_another; under
    Dawid-Skene the serving model's prediction counts as evidence beside the people). Read
    under the item's row lock, as answers.record writes."""
    project = item.project
    Item.objects.select_for_update().filter(id=item.id).values_list("id").first()
    given = [*selectors.others_answers(item.id, annotator.id), (annotator.get_username(), labels)]
    minimum = project.overlap
    if project.agreement_sample and consensus.in_agreement_sample(
        item.id, project.agreement_sample
    ):
        minimum = max(minimum, 2)
    maximum = max(project.max_overlap or project.overlap, minimum)
    judge = judging.judge_for(project)
    agreement = judge.agreement(given)
    informed = None
    if judge.fitted is not None and minimum <= len(given) < maximum and agreement is not None:
        prediction = selectors.prediction_of(project, item.id)
        if prediction is not None and len(prediction["predicted"]) == 1:
            informed = judge.with_model(given, prediction["predicted"][0], prediction["confidence"])
    more = consensus.wants_another(
        agreement,
        answers=len(given),
        minimum=minimum,
        maximum=maximum,
        threshold=project.consensus_threshold,
        informed=informed,
    )
    return len(given) + 1 if more else len(given)


@transaction.atomic
def submit_annotation(
    *,
    item: Item,
    annotator: User,
    labels: list[str],
    lead_time_ms: int | None = None,
    ambiguous: bool = False,
    needs_expert: bool = False,
    comment: str = "",
    prediction_shown: bool = False,
    prediction_accepted: bool | None = None,
) -> Annotation:
    """Record the annotator's labels for the item and release their lease; resubmitting replaces.

    Raises InvalidLabels for names the project lacks or a count its task type forbids.
    """
    # names the project lacks are found as the answer is written (answers.record)
    answers.check_label_names(labels, multi_label=item.project.is_multi_label)
    announce_after_commit(answers_recorded, project_id=item.project_id)  # a round may be due
    return _record(
        item,
        annotator,
        labels=labels,
        skipped=False,
        skip_reason="",
        lead_time_ms=lead_time_ms,
        ambiguous=ambiguous,
        needs_expert=needs_expert,
        comment=comment,
        prediction_shown=prediction_shown,
        prediction_accepted=prediction_accepted if prediction_shown else None,
    )


@transaction.atomic
def skip_item(
    *,
    item: Item,
    annotator: User,
    lead_time_ms: int | None = None,
    comment: str = "",
    reason: str = "",
) -> Annotation:
    """Record that the annotator passed on the item: they are not served it again, others are.
    `reason` is one of Annotation.SkipReason (or blank); the comment says the rest."""
    if reason and reason not in Annotation.SkipReason.values:
        raise DomainError(f"not a skip reason: {reason!r}", field="reason")
    return _record(
        item,
        annotator,
        labels=[],
        skipped=True,
        skip_reason=reason,
        lead_time_ms=lead_time_ms,
        ambiguous=False,
        needs_expert=False,
        comment=comment,
        prediction_shown=False,
        prediction_accepted=None,
    )


@transaction.atomic
def undo_annotation(*, annotation: Annotation) -> Item:
    """Delete the annotation and lease its item back to the annotator, to answer again."""
    answers.remove(annotation=annotation, overlap=annotation.item.project.overlap)
    queue.lease(
        item_id=annotation.item_id,
        project_id=annotation.item.project_id,
        user_id=annotation.annotator_id,
        now=timezone.now(),
    )
    return Item.objects.select_related("project").get(id=annotation.item_id)
