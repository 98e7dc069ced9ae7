"""Saved scenarios and results: one SQLite file, created on first use, migrated in place.

A *scenario* is what a page or API call was asked (its kind — ``calculator``, ``compare``,
``odds`` or ``advise`` — a name, and the request as JSON); a *result* is what it gave (the
JSON answer and, for a comparison, the HTML report). Results belong to a scenario and go
with it when it is deleted.

The schema version lives in SQLite's ``PRAGMA user_version``; :data:`MIGRATIONS` holds
one script per version, applied in order in one transaction each, so a file written by
an older perpmargin is brought up to date when it is opened and a newer file is refused.
Every operation opens its own connection (the web app serves requests on threads).

Stored JSON is bounded when it is written (:data:`MAX_JSON_DEPTH` levels of nesting, a
size in characters, finite numbers only), so every saved row can be read back, served as
JSON and embedded in a page.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perpmargin.errors import InvalidInput

__all__ = [
    "MAX_JSON_DEPTH",
    "MIGRATIONS",
    "SavedResult",
    "SavedScenario",
    "Store",
    "StoreError",
    "UnreadableRecord",
]

#: Deepest nesting of lists and objects a saved document may have (perpmargin's own
#: answers use under 10; the JSON encoders that serve them give up near 255).
MAX_JSON_DEPTH = 32

Kind = Literal["calculator", "compare", "odds", "advise"]
KINDS: tuple[str, ...] = ("calculator", "compare", "odds", "advise")

#: Schema scripts; ``MIGRATIONS[k]`` takes a file from version ``k`` to ``k + 1``.
MIGRATIONS: tuple[str, ...] = (
    # 1: scenarios and their results (JSON text)
    """
    CREATE TABLE scenario (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        inputs TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE result (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scenario_id INTEGER NOT NULL REFERENCES scenario(id) ON DELETE CASCADE,
        summary TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX result_scenario ON result(scenario_id);
    """,
    # 2: a comparison's HTML report (zlib) kept beside its summary; newest first quickly
    """
    ALTER TABLE result ADD COLUMN report_gz BLOB;
    CREATE INDEX scenario_created ON scenario(created_ms);
    """,
)


def _pack(page: str | None) -> bytes | None:
    return None if page is None else zlib.compress(page.encode("utf-8"), 6)


def _depth(value: Any) -> int:
    """Nesting depth of lists and dicts (a scalar is 0), counted without recursion; stops
    counting once it passes :data:`MAX_JSON_DEPTH`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack and deepest <= MAX_JSON_DEPTH:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def _dumps(value: Any, what: str, max_chars: int) -> str:
    """``value`` as JSON text, or :class:`InvalidInput` when it cannot be kept safely."""
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidInput(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        raise InvalidInput(f"{what} holds NaN or an infinity, which JSON cannot keep") from None
    if len(text) > max_chars:
        raise InvalidInput(
            f"{what} is {len(text):,} characters as JSON, more than the {max_chars:,} kept"
        )
    return text


class StoreError(InvalidInput):
    """The database file cannot be used (not SQLite, or written by a newer perpmargin)."""


class UnreadableRecord(StoreError):
    """A saved row that cannot be served (written before stored JSON was bounded)."""


def _no_constant(name: str) -> Any:
    raise ValueError(f"it holds {name}, which JSON cannot carry")


def _loads(text: str, what: str) -> Any:
    """Stored JSON read back, or :class:`UnreadableRecord` when it breaks the bounds that
    :func:`_dumps` keeps (a row written by an earlier perpmargin may)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UnreadableRecord(f"{what} is nested too deep to read; delete it") from None
    except ValueError as exc:
        raise UnreadableRecord(f"{what} cannot be read ({exc}); delete it") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise UnreadableRecord(
            f"{what} is nested more than {MAX_JSON_DEPTH} levels deep; delete it"
        )
    return value


def _listed_inputs(text: str, what: str) -> Any:
    """A scenario's inputs for the list: an unreadable one says so instead of failing
    the whole list."""
    try:
        return _loads(text, what)
    except UnreadableRecord as exc:
        return {"unreadable": str(exc)}


@dataclass(frozen=True)
class SavedResult:
    """One stored answer (``summary`` as it was returned; ``has_report``: HTML kept)."""

    id: int
    scenario_id: int
    summary: dict[str, Any]
    created_ms: int
    has_report: bool


@dataclass(frozen=True)
class SavedScenario:
    """One stored request and its results, newest result last."""

    id: int
    kind: str
    name: str
    inputs: dict[str, Any]
    created_ms: int
    results: tuple[SavedResult, ...] = ()


class Store:
    """The SQLite file at ``path`` (its folder is created when missing).

    ``max_json_chars``: the largest inputs or summary kept, in characters of JSON.
    """

    def __init__(self, path: str | Path, max_json_chars: int = 20_000_000) -> None:
        self.path = Path(path)
        self.max_json_chars = max_json_chars
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.version = self._migrate()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=10)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            with conn:  # one transaction: commit, or roll back on error
                yield conn
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from None
        finally:
            conn.close()

    def _migrate(self) -> int:
        with self._connect() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} has schema version {version}; this perpmargin knows up to "
                f"{len(MIGRATIONS)} (a newer perpmargin wrote it)"
            )
        for target in range(version + 1, len(MIGRATIONS) + 1):
            with self._connect() as conn:
                # executescript commits first; the version bump is in the same script
                conn.executescript(
                    "BEGIN;\n"
                    + MIGRATIONS[target - 1]
                    + f"\nPRAGMA user_version = {target};\nCOMMIT;"
                )
        return len(MIGRATIONS)

    def save(
        self,
        kind: str,
        name: str,
        inputs: dict[str, Any],
        summary: dict[str, Any] | None = None,
        report_html: str | None = None,
    ) -> int:
        """Store a scenario (and its first result, when given); return the scenario id.

        Raises :class:`InvalidInput`, storing nothing, when ``inputs`` or ``summary`` is
        nested too deep, too large, or holds NaN or an infinity.
        """
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {KINDS}, was {kind!r}")
        inputs_text = _dumps(inputs, "inputs", self.max_json_chars)
        summary_text = None if summary is None else _dumps(summary, "summary", self.max_json_chars)
        now = int(time.time() * 1000)
        with self._connect() as conn:
            cur = conn.execute(
                "INSERT INTO scenario (kind, name, inputs, created_ms) VALUES (?, ?, ?, ?)",
                (kind, name[:200], inputs_text, now),
            )
            scenario_id = int(cur.lastrowid or 0)
            if summary_text is not None:
                conn.execute(
                    "INSERT INTO result (scenario_id, summary, report_gz, created_ms) "
                    "VALUES (?, ?, ?, ?)",
                    (scenario_id, summary_text, _pack(report_html), now),
                )
        return scenario_id

    def add_result(
        self, scenario_id: int, summary: dict[str, Any], report_html: str | None = None
    ) -> int:
        """Store another result of a saved scenario; return its id (bounded as in save)."""
        summary_text = _dumps(summary, "summary", self.max_json_chars)
        with self._connect() as conn:
            if (
                conn.execute("SELECT 1 FROM scenario WHERE id = ?", (scenario_id,)).fetchone()
                is None
            ):
                raise KeyError(scenario_id)
            cur = conn.execute(
                "INSERT INTO result (scenario_id, summary, report_gz, created_ms) "
                "VALUES (?, ?, ?, ?)",
                (scenario_id, summary_text, _pack(report_html), int(time.time() * 1000)),
            )
            return int(cur.lastrowid or 0)

    def list(self, kind: str | None = None, limit: int = 100) -> list[SavedScenario]:
        """Saved scenarios, newest first (without their results)."""
        query = "SELECT id, kind, name, inputs, created_ms FROM scenario"
        args: tuple[Any, ...] = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        query += " ORDER BY created_ms DESC, id DESC LIMIT ?"
        with self._connect() as conn:
            rows = conn.execute(query, (*args, int(limit))).fetchall()
        return [
            SavedScenario(r[0], r[1], r[2], _listed_inputs(r[3], f"saved scenario {r[0]}"), r[4])
            for r in rows
        ]

    def get(self, scenario_id: int) -> SavedScenario:
        """One scenario with its results; ``KeyError`` when there is none."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, kind, name, inputs, created_ms FROM scenario WHERE id = ?",
                (scenario_id,),
            ).fetchone()
            if row is None:
                raise KeyError(scenario_id)
            results = conn.execute(
                "SELECT id, scenario_id, summary, created_ms, report_gz IS NOT NULL "
                "FROM result WHERE scenario_id = ? ORDER BY id",
                (scenario_id,),
            ).fetchall()
        return SavedScenario(
            row[0],
            row[1],
            row[2],
            _loads(row[3], f"saved scenario {row[0]}'s inputs"),
            row[4],
            tuple(
                SavedResult(r[0], r[1], _loads(r[2], f"result {r[0]}"), r[3], bool(r[4]))
                for r in results
            ),
        )

    def report(self, result_id: int) -> str:
        """A stored comparison's HTML report; ``KeyError`` when there is none."""
        with self._connect() as conn:
            row = conn.execute("SELECT report_gz FROM result WHERE id = ?", (result_id,)).fetchone()
        if row is None or row[0] is None:
            raise KeyError(result_id)
        return zlib.decompress(row[0]).decode("utf-8")

    def delete(self, scenario_id: int) -> None:
        """Delete a scenario and its results; ``KeyError`` when there is none."""
        with self._connect() as conn:
            cur = conn.execute("DELETE FROM scenario WHERE id = ?", (scenario_id,))
            if cur.rowcount == 0:
                raise KeyError(scenario_id)
