from django.contrib import admin

from annotation.models import (
    Annotation,
    AuditEvent,
    ImportJob,
    Item,
    Label,
    Lease,
    Membership,
    Project,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never edited here: items, answers and leases are written by annotation's
    services only, which keep each item's count, status and queue place in step (an edit
    here would not)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0
    can_delete = False  # a label in use goes through the settings page, which checks


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "task_type", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [LabelInline, MembershipInline]
    # the overlap decides which items are done: the settings page changes it with them
    readonly_fields = ["overlap", "task_type"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role"]
    raw_id_fields = ["user", "project"]


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "external_id", "status", "annotation_count"]
    list_filter = ["status"]
    search_fields = ["external_id"]
    raw_id_fields = ["project"]
    show_full_result_count = False  # counting millions of rows on every page is slow


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    list_display = ["item", "user", "expires_at"]
    raw_id_fields = ["item", "user", "project"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ["id", "item", "annotator", "skipped", "lead_time_ms", "created_at"]
    list_filter = ["skipped", "ambiguous", "needs_expert"]
    raw_id_fields = ["item", "annotator"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "file_format", "created_count", "created_at"]
    list_filter = ["status"]
    exclude = ["payload"]
    raw_id_fields = ["project", "created_by"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Every project's log, a deleted project's too (its admins no longer can see it)."""

    list_display = ["at", "project_id", "project_name", "actor_name", "action"]
    list_filter = ["action"]
    search_fields = ["project_name", "actor_name", "=project_id"]
    show_full_result_count = False
