import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hitl.settings")
application = get_wsgi_application()
# Import every view now, not on a worker's first request: that import (the engine pulls in
# scikit-learn) took about a second of CPU, which a busy server paid once per worker process
# in the middle of serving, and which made the first request of each worker that slow.
get_resolver().url_patterns  # noqa: B018
