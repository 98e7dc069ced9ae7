"""An app per test module on a temporary database, and a TestClient for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
