"""The settings page in real headless Chromium: what a browser posts for a checkbox."""

import pytest

from annotation.models import Membership, Project
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_show_predictions_unticks_and_ticks_again(browser_page, page_problems, live_server):
    project = ProjectFactory(name="Suggestions", labels=["pos", "neg"])
    admin = UserFactory(username="setter")
    MembershipFactory(project=project, user=admin, role=Membership.Role.ADMIN)
    page = browser_page
    log_in(page, live_server.url, admin.username)
    url = f"{live_server.url}/projects/{project.id}/settings/"
    box = "input[type=checkbox][name=show_predictions]"
    for wanted in (False, True):
        page.goto(url)
        assert page.is_checked(box) is (not wanted)
        page.set_checked(box, wanted)
        page.click("form:has(input[name=action][value=settings]) button[type=submit]")
        page.wait_for_url(url)
        assert Project.objects.get(id=project.id).show_predictions is wanted
        assert page.is_checked(box) is wanted
    assert page_problems == []
