"""Every page under the Content-Security-Policy, in real Chromium: each one works (its
scripts ran, its forms post) and the browser reports no violation and no console error."""

import pytest
from django.contrib.auth import get_user_model

from annotation.models import Item, Membership
from tests.browser.helpers import log_in
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff_admin_project():
    user = get_user_model().objects.create_superuser("root", password="pw-for-tests-1")
    project = ProjectFactory(name="Under the policy", labels=["pos", "neg"])
    Item.objects.bulk_create(
        Item(project=project, data={"text": f"text {n}"}, random_key=n) for n in range(4)
    )
    MembershipFactory(project=project, user=user, role=Membership.Role.ADMIN)
    return project, user


def _open(page, url: str):
    """Open a page and check the headers it came with."""
    response = page.goto(url)
    assert response.status == 200, url
    policy = response.headers["content-security-policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "camera=()" in response.headers["permissions-policy"]
    return response


def test_every_page_works_under_the_policy_without_a_violation(
    browser_page, page_problems, live_server, staff_admin_project, screenshot
):
    project, user = staff_admin_project
    page, base = browser_page, live_server.url

    _open(page, f"{base}/login/")
    screenshot("login")
    log_in(page, base, user.username)  # the form posts (form-action) and redirects
    _open(page, f"{base}/")
    page.wait_for_selector("text=Under the policy")
    screenshot("projects")

    _open(page, f"{base}/projects/{project.id}/label/")  # fetches, keys, colours from JS
    page.wait_for_function("() => document.getElementById('item-text').textContent === 'text 0'")
    colour = page.eval_on_selector(
        ".label-button", "b => getComputedStyle(b).getPropertyValue('--label-color')"
    )
    assert colour.strip().startswith("#")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('message').textContent === 'Saved.'")

    _open(page, f"{base}/projects/{project.id}/dashboard/")  # polls the learning API
    page.wait_for_function("() => document.getElementById('stopping').textContent !== 'Loading…'")

    _open(page, f"{base}/projects/{project.id}/settings/")
    screenshot("settings")
    page.fill("input[name=overlap]", "2")
    page.click("text=Save")  # the settings form posts back
    page.wait_for_url(f"{base}/projects/{project.id}/settings/")

    _open(page, f"{base}/projects/{project.id}/audit/")  # the save above is in the log
    page.wait_for_selector("text=Settings changed")
    screenshot("audit")

    _open(page, f"{base}/account/token/")
    page.click("text=Create a token")
    assert len(page.inner_text("#new-token")) > 30
    screenshot("token")

    _open(page, f"{base}/admin/")  # the Django admin, its scripts and a change form
    _open(page, f"{base}/admin/annotation/project/")
    _open(page, f"{base}/admin/annotation/project/{project.id}/change/")
    page.wait_for_selector("#project_form")

    _open(page, f"{base}/api/v1/docs/")  # Swagger UI from drf-spectacular-sidecar
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=30_000)  # drawn from the schema

    page.wait_for_timeout(300)  # late reports (a poll, a deferred style) still count
    assert page_problems == []


def test_the_login_page_and_the_admin_login_work_under_the_policy(
    browser_page, page_problems, live_server, staff_admin_project
):
    page, base = browser_page, live_server.url
    _open(page, f"{base}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.wait_for_timeout(300)
    assert page_problems == []


def test_an_inline_script_is_refused_and_reported(browser_page, page_problems, live_server):
    """The check itself: a page that breaks the policy is caught (the test above would not
    pass by failing to listen)."""
    page = browser_page
    _open(page, f"{live_server.url}/login/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = true'; document.body.append(s); }"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ran === undefined")
    assert any(problem.startswith("csp: script-src") for problem in page_problems)
