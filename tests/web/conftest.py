"""An app per test module on a temporary database, and a TestClient for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from perpmargin.web import create_app
from perpmargin.web.service import Limits

#: Small caps so that limit tests are cheap and fuzzing cannot start long runs.
TEST_LIMITS = Limits(
    max_body_bytes=300_000,
    max_upload_rows=2_000,
    max_paths=100_000,
    max_path_steps=3_000_000,
    max_job_paths=200_000,
    max_job_path_steps=6_000_000,
    job_timeout_s=60.0,
    max_jobs=4,
    max_advise_paths=5_000,
    max_advise_work=3_000_000,
    max_advise_job_paths=20_000,
    max_advise_job_work=30_000_000,
    max_advise_cells=500_000,
    max_advise_confirm_bars=5_000,
)


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web") / "sub" / "perpmargin.db"


@pytest.fixture(scope="module")
def client(db_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(db_path, TEST_LIMITS), base_url="http://localhost") as c:
        yield c


# The browser tests' app, Chromium and page (test_browser*.py skip themselves without a
# Chromium, or fail under PERPMARGIN_REQUIRE_BROWSER).


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from perpmargin.web.local import running

    db = tmp_path_factory.mktemp("browser") / "perpmargin.db"
    with running(create_app(db, TEST_LIMITS)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    from perpmargin.web.local import CHROMIUM_ARGS, find_chromium

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A page of the app that fails its test on any script error."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == [], f"script errors on the page: {errors}"
