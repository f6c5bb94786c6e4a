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

    # The active-learning engine.
    # Left out of a post, each keeps its current (or default) value.
    model = forms.ChoiceField(
        choices=Project.Model.choices, initial=Project.Model.LOGISTIC_REGRESSION, required=False
    )
    strategy = forms.ChoiceField(
        choices=Project.Strategy.choices, initial=Project.Strategy.DIVERSE_MARGIN, required=False
    )
    retrain_every = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        initial=1,
        help_text="New labels before the model retrains (grows to a twentieth of the labelled "
        "set; the first model waits for at least 10).",
    )
    eval_share = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=0.5,
        initial=0.05,
        help_text="Share of items drawn at random to measure the model; never trained on.",
    )
    eval_sample_size = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1_000_000,
        initial=500,
        help_text="Random draws stop once this many evaluation items are answered.",
    )
    show_predictions = forms.BooleanField(
        required=False, initial=True, help_text="Show annotators the model's suggestion."
    )
    stopping_kind = forms.ChoiceField(
        label="Stopping rule",
        choices=[
            ("stabilizing", "Predictions stable for N rounds"),
            ("budget", "Label budget"),
            ("target", "Target accuracy on the evaluation sample"),
        ],
        initial="stabilizing",
        required=False,
    )
    stopping_value = forms.FloatField(
        required=False,
        min_value=0,
        help_text="N rounds (default 3), the number of labels, or the accuracy (0-1).",
    )

    def clean_labels(self) -> list[dict]:
        return parse_label_lines(self.cleaned_data["labels"])

    def clean(self):
        cleaned = super().clean()
        for name in ("model", "strategy", "retrain_every", "eval_share", "eval_sample_size"):
            if cleaned.get(name) in ("", None):
                cleaned.pop(name, None)
        if "show_predictions" not in self.data:
            cleaned.pop("show_predictions", None)  # an unticked box is "off" only when shown
        kind, value = cleaned.pop("stopping_kind", None), cleaned.pop("stopping_value", None)
        if not kind:
            return cleaned
        rule = {"kind": kind}
        if kind == "stabilizing":
            rule["rounds"] = int(value) if value else 3
        elif value is None:
            self.add_error(
                "stopping_value", f"give the {'labels' if kind == 'budget' else 'accuracy'}"
            )
        elif kind == "budget":
            rule["labels"] = max(1, int(value))
        elif not 0 < value <= 1:
            self.add_error("stopping_value", "an accuracy is between 0 and 1")
        else:
            rule["metric"] = value
        cleaned["stopping_rule"] = rule
        return cleaned


def stopping_initial(rule: dict) -> dict:
    """The stopping rule as the form's two fields."""
    kind = (rule or {}).get("kind", "stabilizing")
    value = {
        "stabilizing": rule.get("rounds", 3) if rule else 3,
        "budget": (rule or {}).get("labels"),
        "target": (rule or {}).get("metric"),
    }[kind]
    return {"stopping_kind": kind, "stopping_value": value}


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.ANNOTATOR)
