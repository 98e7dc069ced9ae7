"""The one gate of the browser test modules: Chromium from the system (Debian's
``chromium``; ``make test`` installs it when missing) and Playwright. Without them a
module skips, unless ``PERPMARGIN_REQUIRE_BROWSER`` is set (as CI does), where a missing
browser fails it."""

from __future__ import annotations

import os

import pytest

from perpmargin.web.local import find_chromium


def require_browser() -> None:
    """Call at a test module's top: skip (or fail, in CI) the module without a browser."""
    if find_chromium() is None:
        if os.environ.get("PERPMARGIN_REQUIRE_BROWSER"):
            pytest.fail("no Chromium found and PERPMARGIN_REQUIRE_BROWSER is set", pytrace=False)
        pytest.skip(
            "no Chromium (install Debian's chromium, or run make test)", allow_module_level=True
        )
    pytest.importorskip("playwright.sync_api")
