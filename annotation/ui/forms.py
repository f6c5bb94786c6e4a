"""Forms of the browser pages; they only shape input: the services decide."""

import re

from django import forms
from django.utils.html import format_html

from annotation import engine_options
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


class PostedCheckbox(forms.CheckboxInput):
    """A checkbox whose form posts its name either way: a hidden "false" of the same name
    comes before it. A browser sends nothing for an unticked box, so without it a form that
    keeps what a post leaves out could never hear "off"; with it, "left out" means a post that
    did not come from the page (the API's PATCH or a script) and "false" means unticked."""

    def render(self, name, value, attrs=None, renderer=None):
        hidden = format_html('<input type="hidden" name="{}" value="false">', name)
        return hidden + super().render(name, value, attrs, renderer)

    def value_from_datadict(self, data, files, name):
        posted = data.getlist(name) if hasattr(data, "getlist") else [data.get(name)]
        return any(value not in (None, "", "false", "False", False) for value in posted)


class ProjectForm(forms.ModelForm):
    """A project's settings: bounds, choices and help come from the model (one place), the
    stopping rule's kinds and its check from the engine (annotation.engine_options)."""

    labels = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One a line: name, or name|key|#rrggbb (keys 1-9 are given by default).",
    )
    stopping_kind = forms.ChoiceField(label="Stopping rule", required=False)
    stopping_value = forms.FloatField(
        required=False,
        min_value=0,
        help_text="N rounds (empty: the rule's default), the number of labels, or the accuracy "
        "(0-1).",
    )
    # Left out of a post, each keeps its current (or default) value.
    OPTIONAL = (
        "model",
        "strategy",
        "retrain_every",
        "eval_share",
        "eval_sample_size",
        "consensus",
        "consensus_threshold",
        "agreement_sample",
        "gold_share",
        "review_sample",
        "label_issue_cap",
    )
    # Posted by the page either way (PostedCheckbox): left out of a post, each keeps its value.
    CHECKBOXES = ("show_predictions", "anonymize_reviews")

    class Meta:
        model = Project
        # the stopping rule is asked as its kind and one number (stopping_kind, stopping_value)
        fields = [name for name in Project.SETTINGS if name != "stopping_rule"]
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 4}),
            "show_predictions": PostedCheckbox,
            "anonymize_reviews": PostedCheckbox,
        }

    field_order = ["name", "task_type", "labels", "overlap", "instructions"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.OPTIONAL:
            self.fields[name].required = False
        self.fields["stopping_kind"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (kind.name, kind.title) for kind in engine_options.offered().stopping_kinds
        ]

    def clean_labels(self) -> list[dict]:
        return parse_label_lines(self.cleaned_data["labels"])

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # a ModelForm's clean returns its cleaned_data
        for name in self.OPTIONAL:
            if cleaned.get(name) in ("", None):
                cleaned.pop(name, None)
        for name in self.CHECKBOXES:
            if name not in self.data:
                cleaned.pop(name, None)  # left out, not unticked (PostedCheckbox)
        kind, value = cleaned.pop("stopping_kind", None), cleaned.pop("stopping_value", None)
        if not kind:
            return cleaned
        rule: dict = {"kind": kind}
        if value is not None:
            key = engine_options.stopping_value_key(kind)
            rule[key] = int(value) if value.is_integer() else value
        for _key, message in engine_options.stopping_rule_errors(rule).items():
            self.add_error("stopping_value", message)
        cleaned["stopping_rule"] = rule
        return cleaned


def stopping_initial(rule: dict) -> dict:
    """The stopping rule as the form's two fields."""
    kind = (rule or {}).get("kind", "stabilizing")
    return {
        "stopping_kind": kind,
        "stopping_value": (rule or {}).get(engine_options.stopping_value_key(kind)),
    }


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)
