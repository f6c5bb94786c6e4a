"""What a web process loads: the engine's machine learning stays in the workers."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["sklearn", "scipy", "joblib"]

PROBE = f"""
import json, sys
import hitl.wsgi  # the application, with every view imported as gunicorn loads it
from models_service import kick
kick._send(1)  # what a label or an import sends a worker (the broker here is unreachable)
print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
"""


def test_a_web_process_serves_and_asks_for_rounds_without_loading_scikit_learn():
    """scikit-learn and its stack cost each web process about 120 MiB and a second of start;
    only workers train and score."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="hitl.settings",
        HITL_SECRET_KEY="test-web-imports",
        CELERY_BROKER_URL="redis://127.0.0.1:9/0",  # nothing listens: the send fails at once
    )
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout.splitlines()[-1]) == []
