"""Forms of the browser pages; they only shape input: the services decide."""

import re

from django import forms

from annotation.models import Membership, Project

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_label_lines(text: str) -> list[dict]:
    """Read labels written one a line as `name`, `name|key` or `name|key|#rrggbb`."""
    labels = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3 or not parts[0] or len(parts[0]) > 64:
            raise forms.ValidationError(f"line {number}: write name, name|key or name|key|#rrggbb")
        label = {"name": parts[0]}
        if len(parts) > 1 and parts[1]:
            if len(parts[1]) != 1:
                raise forms.ValidationError(f"line {number}: a shortcut is one key")
            label["shortcut"] = parts[1]
        if len(parts) > 2 and parts[2]:
            if not _COLOR.match(parts[2]):
                raise forms.ValidationError(f"line {number}: a colour is #rrggbb")
            label["color"] = parts[2]
        labels.append(label)
    if not labels:
        raise forms.ValidationError("give at least one label")
    return labels


def label_lines(project: Project) -> str:
    """The project's labels as the settings form shows them."""
    return "\n".join(
        f"{label.name}|{label.shortcut}|{label.color}" for label in project.labels.all()
    )


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    task_type = forms.ChoiceField(choices=Project.TaskType.choices)
    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One a line: name, or name|key|#rrggbb (keys 1-9 are given by default).",
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=Project.MAX_OVERLAP,
        initial=1,
        help_text="How many different people label each item.",
    )
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20_000
    )

    def clean_labels(self) -> list[dict]:
        return parse_label_lines(self.cleaned_data["labels"])


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)
