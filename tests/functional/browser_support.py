"""Playwright for Python driving Debian's chromium, for the dashboard's browser tests.

Without playwright or /usr/bin/chromium the tests are skipped with the reason, except under
``CI`` (set by .ci/run's caller), where they fail: CI installs both (.ci/run, development.pip).
No browser is downloaded: ``executable_path`` is the system's chromium.
"""
import os

import pytest

from tests.conftest import IN_CI

CHROMIUM = os.environ.get("TORUS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "artifacts")


def missing() -> str:
    """'' when the browser tests can run, else why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r development.pip)"
    if not os.access(CHROMIUM, os.X_OK):
        return "no chromium at %s (apt-get install chromium)" % CHROMIUM
    return ""


def require_browser() -> None:
    why = missing()
    if why:
        if IN_CI:
            pytest.fail("CI is set and %s" % why, pytrace=False)
        pytest.skip(why)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def screenshot(page, name: str) -> str:
    """Save a screenshot under tests/artifacts/ (gitignored) and return its path."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path)
    return path
