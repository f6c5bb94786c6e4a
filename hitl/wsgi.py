import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl.settings")
application = get_wsgi_application()
# Import every view now, not on a worker's first request: a busy server paid that import once
# per worker process in the middle of serving. (No view loads scikit-learn: only the Celery
# workers train and score; tests/hitl/test_web_imports.py holds the web to that.)
get_resolver().url_patterns  # noqa: B018
