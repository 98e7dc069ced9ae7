"""The SQLite store: created on first use, migrated in place, refuses what it cannot read."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from perpmargin.errors import InvalidInput
from perpmargin.web.store import MAX_JSON_DEPTH, MIGRATIONS, Store, StoreError


def test_created_on_first_use_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "p.db"
    store = Store(path)
    assert path.is_file()
    assert store.version == len(MIGRATIONS)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_save_list_get_report_delete(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    a = store.save("calculator", "first", {"x": "1"})
    b = store.save("compare", "second", {"y": 2}, {"modes": {}}, "<html>report é</html>")
    store.add_result(b, {"again": True})
    assert [s.id for s in store.list()] == [b, a]  # newest first
    assert [s.id for s in store.list("calculator")] == [a]
    got = store.get(b)
    assert got.inputs == {"y": 2}
    assert [r.summary for r in got.results] == [{"modes": {}}, {"again": True}]
    assert [r.has_report for r in got.results] == [True, False]
    assert store.report(got.results[0].id) == "<html>report é</html>"
    with pytest.raises(KeyError):
        store.report(got.results[1].id)
    store.delete(b)
    with pytest.raises(KeyError):
        store.get(b)
    with pytest.raises(KeyError):
        store.report(got.results[0].id)  # results went with their scenario
    with pytest.raises(KeyError):
        store.delete(b)
    with pytest.raises(KeyError):
        store.add_result(b, {})
    with pytest.raises(InvalidInput):
        store.save("other", "x", {})


def test_a_version_1_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # what perpmargin's first schema wrote
        conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        conn.execute(
            "INSERT INTO scenario (kind, name, inputs, created_ms) VALUES "
            "('odds', 'kept', '{\"paths\": 5}', 1)"
        )
        conn.execute("INSERT INTO result (scenario_id, summary, created_ms) VALUES (1, '{}', 1)")
    store = Store(path)
    assert store.version == 2
    old = store.get(1)
    assert (old.name, old.inputs, old.results[0].has_report) == ("kept", {"paths": 5}, False)
    new = store.save("compare", "new", {}, {}, "<p>r</p>")
    assert store.report(store.get(new).results[0].id) == "<p>r</p>"
    assert Store(path).version == 2  # opening again changes nothing


def test_a_newer_file_and_a_non_database_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer perpmargin"):
        Store(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        Store(junk)


def _nested(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_json_that_could_not_be_read_back_is_not_stored(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db", max_json_chars=100)
    too_deep = {"a": _nested(MAX_JSON_DEPTH)}  # one level more with the object
    with pytest.raises(InvalidInput, match="summary is nested more than 32 levels deep"):
        store.save("odds", "deep", {}, too_deep, "<html></html>")
    with pytest.raises(InvalidInput, match="inputs holds NaN or an infinity"):
        store.save("odds", "nan", {"x": float("nan")})
    with pytest.raises(InvalidInput, match="inputs is 209 characters as JSON, more than the 100"):
        store.save("odds", "big", {"x": "y" * 200})
    assert store.list() == []  # nothing of a refused save is kept
    kept = store.save("odds", "ok", {"a": _nested(MAX_JSON_DEPTH - 1)})
    assert store.get(kept).inputs == {"a": _nested(MAX_JSON_DEPTH - 1)}
    with pytest.raises(InvalidInput, match="summary holds NaN"):
        store.add_result(kept, {"p": float("inf")})
    with pytest.raises(InvalidInput, match="summary is nested"):
        store.add_result(kept, too_deep)
    assert store.get(kept).results == ()


@pytest.mark.parametrize(
    ("inputs", "why"),
    [
        ("[" * 300 + "]" * 300, "nested"),
        ('{"x": NaN}', "NaN"),
        ('{"x": 1', "cannot be read"),
    ],
)
def test_a_poisoned_row_from_an_earlier_version_is_refused_not_a_500(
    tmp_path: Path, inputs: str, why: str
) -> None:
    """Issue 22: rows saved before stored JSON was bounded made every read a 500."""
    from fastapi.testclient import TestClient

    from perpmargin.web import create_app

    db = tmp_path / "p.db"
    store = Store(db)
    good = store.save("calculator", "fine", {"symbol": "BTCUSDT"})
    with sqlite3.connect(db) as conn:
        cur = conn.execute(
            "INSERT INTO scenario (kind, name, inputs, created_ms) VALUES (?, ?, ?, ?)",
            ("odds", "poisoned", inputs, 1),
        )
        bad = int(cur.lastrowid or 0)
    with pytest.raises(StoreError, match=why):
        store.get(bad)
    listed = {s.id: s for s in store.list()}
    assert why in listed[bad].inputs["unreadable"]
    assert listed[good].inputs == {"symbol": "BTCUSDT"}
    with TestClient(create_app(db), base_url="http://localhost") as client:
        api = client.get(f"/api/v1/saved/{bad}")
        assert api.status_code == 422
        assert "delete it" in api.json()["detail"]
        assert client.get("/saved").status_code == 200
        page = client.get(f"/saved/{bad}")
        assert page.status_code == 422
        assert "delete it" in page.text
        assert client.delete(f"/api/v1/saved/{bad}").status_code == 204
