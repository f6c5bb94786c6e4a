"""What annotation announces, for whichever app listens: annotation knows no listener.

models_service subscribes in its AppConfig.ready (a round may be due), so the dependency
between the two apps runs one way. Each event is sent once its transaction has committed:
a listener never reads rows that may still roll back.
"""

from django.db import transaction
from django.dispatch import Signal

# project_id: a person's answer (not a skip) was recorded.
answers_recorded = Signal()
# project_id, count: new items joined the project's pool.
items_imported = Signal()


def announce_after_commit(event: Signal, **facts) -> None:
    """Send `event` with `facts` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: event.send(sender=None, **facts))
