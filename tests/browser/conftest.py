"""Real headless Chromium (Debian's, through Playwright) for the browser tests, with every
Content-Security-Policy violation and console error of the pages it opens collected."""

import os
from pathlib import Path

import pytest
from django.db import connections

from tests.services import chromium_path

# Playwright's sync API runs an event loop in this thread; the ORM calls around it are ours.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Runs in every document before its own scripts: reports each violation to the test.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportViolation(
  e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " in " +
  e.sourceFile + ":" + e.lineNumber));
"""


@pytest.fixture
def browser_page():
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        page.on("console", lambda m: print("console:", m.type, m.text))
        page.on("pageerror", lambda e: print("pageerror:", e))
        page.set_default_timeout(15_000)
        yield page
        browser.close()
        # ORM calls made while Playwright's loop runs open their own connection (another
        # context); close it here, or the test database cannot be dropped at the end.
        connections.close_all()


# Where the browser tests leave their screenshots: kept after the run (CI keeps them as the
# run's artifacts), never committed (var/ is ignored).
SCREENSHOTS = Path(os.environ.get("HITL_SCREENSHOTS", "var/test-artifacts/screenshots"))


@pytest.fixture
def screenshot(browser_page, request):
    """`screenshot(name)`: the whole page as SCREENSHOTS/<test>-<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        browser_page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def page_problems(browser_page) -> list[str]:
    """What went wrong in the pages the test opens: CSP violations (from the
    `securitypolicyviolation` event), console errors (a failed request among them), a
    Permissions-Policy the browser cannot read, and uncaught exceptions."""
    problems: list[str] = []
    browser_page.expose_function("reportViolation", lambda text: problems.append(f"csp: {text}"))
    browser_page.add_init_script(REPORT_VIOLATIONS)
    browser_page.on("console", lambda m: _is_problem(m) and problems.append(_described(m)))
    browser_page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    return problems


def _is_problem(message) -> bool:
    return message.type == "error" or message.text.startswith("Error with Permissions-Policy")


def _described(message) -> str:
    return f"console {message.type} at {message.location['url']}: {message.text}"
