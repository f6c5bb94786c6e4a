"""Create the demo admin and a demo project of real texts; running it again changes nothing."""

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.imports import import_items
from annotation.models import Project
from annotation.services import create_project

DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"
DEMO_PROJECT = "Demo: what is this text about?"
DEMO_SIZE = 300


class Command(BaseCommand):
    help = "Load the demo admin account and demo project (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(
                username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if Project.objects.filter(name=DEMO_PROJECT).exists():
                return
            rows = _demo_rows()
            labels = sorted({row.pop("label") for row in rows})
            project = create_project(
                creator=user,
                name=DEMO_PROJECT,
                labels=[{"name": name} for name in labels],
                instructions=(
                    "Pick the topic that fits the text best. Keys 1-9 pick a label, Enter "
                    "submits, S skips, Backspace undoes. Texts: see data/README.md for their "
                    "source and licence."
                ),
            )
            body = "\n".join(json.dumps(row) for row in rows).encode()
            count = import_items(project=project, raw=body, file_format="jsonl").created
        self.stdout.write(f"demo project {project.id} with {count} items; log in as {DEMO_USER}")


def _demo_rows() -> list[dict]:
    path = Path(settings.BASE_DIR) / "data" / "texts.jsonl"
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line, _ in zip(lines, range(DEMO_SIZE), strict=False)]
