from django.contrib import admin

from annotation.models import Annotation, ImportJob, Item, Label, Lease, Membership, Project


class LabelInline(admin.TabularInline):
    model = Label
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "task_type", "overlap", "created_at"]
    search_fields = ["name"]
    inlines = [LabelInline, MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role"]
    list_filter = ["role"]
    raw_id_fields = ["user", "project"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "status", "annotation_count"]
    list_filter = ["status"]
    search_fields = ["external_id"]
    raw_id_fields = ["project"]
    show_full_result_count = False  # counting millions of rows on every page is slow


@admin.register(Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ["item", "user", "expires_at"]
    raw_id_fields = ["item", "user", "project"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "skipped", "lead_time_ms", "created_at"]
    list_filter = ["skipped", "ambiguous", "needs_expert"]
    raw_id_fields = ["item", "annotator"]
    filter_horizontal = ["labels"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "file_format", "created_count", "created_at"]
    list_filter = ["status"]
    exclude = ["payload"]
    raw_id_fields = ["project", "created_by"]
