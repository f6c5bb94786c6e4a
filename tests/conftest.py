import pytest
from rest_framework.test import APIClient

from annotation.models import Membership
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.worker import celery_worker  # noqa: F401  (a fixture for the whole suite)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def project(db):
    return ProjectFactory(labels=["pos", "neg", "neutral"])


def _member(project, role, username):
    return MembershipFactory(project=project, role=role, user=UserFactory(username=username)).user


@pytest.fixture
def admin(project):
    return _member(project, Membership.Role.ADMIN, "alice-admin")


@pytest.fixture
def reviewer(project):
    return _member(project, Membership.Role.REVIEWER, "rita-reviewer")


@pytest.fixture
def annotator(project):
    return _member(project, Membership.Role.ANNOTATOR, "ann-annotator")


@pytest.fixture
def outsider(db):
    """A logged-in user who belongs to another project, not this one."""
    user = UserFactory(username="otto-outsider")
    MembershipFactory(user=user, role=Membership.Role.ADMIN)
    return user


@pytest.fixture(autouse=True)
def fresh_artifacts(settings, tmp_path):
    """Each test its own model folder and a worker's memory emptied after it: a test database
    hands out the same ids again, which production never does."""
    settings.HITL_MODEL_DIR = tmp_path / "models"
    yield
    from models_service.rounds.artifacts import store

    store.reset()
