"""Market data in: OHLCV bars and funding rates from CSV or Parquet, validated.

Bars have columns ``timestamp`` (bar open time, ms since the epoch, UTC), ``open``,
``high``, ``low``, ``close`` and optionally ``volume``; funding files have
``funding_time`` (ms) and ``funding_rate`` (a fraction per interval, + longs pay),
optionally ``funding_interval_hours``. Bundled files are named without a directory
(``"binance-btcusdt-perp-15m-2020-03-12.csv"``; see ``perpmargin/data/market``).

Every problem is reported as :class:`DataError` with the file and the row: the line
number in a CSV file (the header is line 1), or the 0-based row in a Parquet file. A CSV
header is checked before the file is parsed: at most :data:`MAX_COLUMNS` columns, each
name once (pandas would otherwise rename repeats, in time quadratic in their number).
Prices are last-trade prices unless the file says otherwise: the caller decides whether
they stand in for the mark.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from perpmargin.errors import InvalidInput

__all__ = [
    "MAX_COLUMNS",
    "Bars",
    "DataError",
    "Funding",
    "align",
    "bundled_market_files",
    "load_bars",
    "load_funding",
    "read_bars",
    "utc_text",
]

_BAR_COLUMNS = ("timestamp", "open", "high", "low", "close")

#: Most columns a CSV file of bars or funding may have (exchange exports have about 12).
MAX_COLUMNS = 64


def utc_text(ms: int | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in ms since the epoch as UTC text (``"-"`` for None)."""
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime(fmt)


class DataError(InvalidInput):
    """A market-data file is malformed; the message names the file and the row."""


@dataclass(frozen=True)
class Bars:
    """Validated bars: ``frame`` indexed 0..n-1 with int64 ``timestamp`` and float64 prices.

    ``step_ms`` is the bar interval (every gap between bars equals it).
    """

    frame: pd.DataFrame
    step_ms: int
    source: str

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Funding:
    """Validated funding settlements: int64 ``funding_time`` and float64 ``funding_rate``."""

    frame: pd.DataFrame
    source: str


def bundled_market_files() -> list[str]:
    """Names of the market-data files shipped with the package."""
    root = resources.files("perpmargin.data") / "market"
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".csv"))


def _read(source: str | Path) -> tuple[pd.DataFrame, str, int]:
    """Read a bundled name, CSV or Parquet file; return (frame, label, line offset)."""
    name = str(source)
    if isinstance(source, str) and "/" not in name and name in bundled_market_files():
        res = resources.files("perpmargin.data") / "market" / name
        with resources.as_file(res) as path:
            return _read_path(path, name)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"no bundled market file and no file named {name!r}")
    return _read_path(path, str(path))


def _read_path(path: Path, label: str) -> tuple[pd.DataFrame, str, int]:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path), label, 0
        with path.open(encoding="utf-8-sig", newline="") as lines:
            _check_header(lines, label)
        return pd.read_csv(path, dtype=str, keep_default_na=False), label, 2
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{label}: cannot be read ({exc})") from None


def _check_header(lines: Iterable[str], label: str) -> None:
    """Refuse a CSV header with a repeated name or more than :data:`MAX_COLUMNS` names.

    ``lines``: the file's text lines. The header is its first record after blank lines
    (those pandas skips: empty or only spaces and tabs); reading it costs time linear in
    its length, however many names it has.
    """
    text = itertools.dropwhile(lambda line: not line.strip(" \t\r\n"), lines)
    try:
        names = next(csv.reader(text), [])
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{label}: line 1: the header cannot be read ({exc})") from None
    seen: set[str] = set()
    for name in names:
        if name in seen:
            count = names.count(name)
            raise DataError(
                f"{label}: line 1: column {name[:40]!r} appears {count:,} times "
                "(each column name must be unique)"
            )
        seen.add(name)
    if len(names) > MAX_COLUMNS:
        raise DataError(
            f"{label}: line 1: {len(names):,} columns, more than the {MAX_COLUMNS} allowed"
        )


def _numbers(frame: pd.DataFrame, column: str, label: str, offset: int) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{label}: row {i + offset}: {column} is not a finite number ({raw.iloc[i]!r})"
        )
    return values


_FIRST_MS = 946_684_800_000  # 2000-01-01 UTC
_LAST_MS = 4_102_444_800_000  # 2100-01-01 UTC
"""Timestamps outside 2000..2100 as ms are another unit: seconds read as ms land in
January 1970 (a 2020 bar in seconds is 1970-01-19), microseconds centuries ahead."""


def _times(frame: pd.DataFrame, column: str, label: str, offset: int) -> np.ndarray:
    values = _numbers(frame, column, label, offset)
    if (values != np.floor(values)).any() or (values < 0).any():
        i = int(np.argmax((values != np.floor(values)) | (values < 0)))
        raise DataError(f"{label}: row {i + offset}: {column} must be whole ms since the epoch")
    times = values.astype("int64")
    outside = (times < _FIRST_MS) | (times >= _LAST_MS)
    if outside.any():
        i = int(np.argmax(outside))
        early = times[i] < _FIRST_MS
        when = utc_text(int(times[i])) if early else "after 2100"
        unit = "seconds? multiply by 1000" if early else "microseconds? divide by 1000"
        raise DataError(
            f"{label}: row {i + offset}: {column} {times[i]} is {when} read as ms since the "
            f"epoch; timestamps are milliseconds ({unit})"
        )
    diffs = np.diff(times)
    if (diffs == 0).any():
        i = int(np.argmax(diffs == 0)) + 1
        raise DataError(f"{label}: row {i + offset}: duplicate {column} {times[i]}")
    if (diffs < 0).any():
        i = int(np.argmax(diffs < 0)) + 1
        raise DataError(
            f"{label}: row {i + offset}: {column} {times[i]} is before the previous row's "
            f"{times[i - 1]} (rows must be sorted by time)"
        )
    return times


def load_bars(source: str | Path, *, step_ms: int | None = None) -> Bars:
    """Load and validate OHLCV bars.

    Parameters
    ----------
    source
        A bundled file name, or a path to a CSV or Parquet file.
    step_ms
        Expected bar interval in ms; by default the interval between the first two rows.

    Raises
    ------
    DataError
        Missing columns, non-numbers, NaN or non-positive prices, high below low (or
        below open/close), duplicate, unsorted or missing (gap) timestamps.
    """
    frame, label, offset = _read(source)
    return _bars_from_frame(frame, label, offset, step_ms)


def read_bars(
    content: bytes,
    *,
    label: str = "upload",
    step_ms: int | None = None,
    max_rows: int | None = None,
) -> Bars:
    """Validate bars from the bytes of a CSV file (an upload: nothing touches the disk).

    ``max_rows`` refuses larger files with :class:`DataError` before they are validated.
    Otherwise as :func:`load_bars`; rows are named by CSV line (the header is line 1).
    """
    _check_header(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8-sig", newline=""), label)
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{label}: cannot be read as CSV ({exc})") from None
    if max_rows is not None and len(frame) > max_rows:
        raise DataError(f"{label}: {len(frame):,} rows, more than the {max_rows:,} allowed")
    return _bars_from_frame(frame, label, 2, step_ms)


def _bars_from_frame(frame: pd.DataFrame, label: str, offset: int, step_ms: int | None) -> Bars:
    missing = [c for c in _BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(missing)}")
    if len(frame) < 2:
        raise DataError(f"{label}: needs at least 2 bars, has {len(frame)}")
    times = _times(frame, "timestamp", label, offset)
    step = int(times[1] - times[0]) if step_ms is None else int(step_ms)
    if step <= 0:
        raise DataError(f"{label}: bar interval must be > 0 ms, was {step}")
    gaps = np.diff(times) != step
    if gaps.any():
        i = int(np.argmax(gaps)) + 1
        raise DataError(
            f"{label}: row {i + offset}: gap: timestamp {times[i]} follows {times[i - 1]}, "
            f"expected {times[i - 1] + step} ({step} ms bars)"
        )
    out = {"timestamp": times}
    for col in ("open", "high", "low", "close"):
        values = _numbers(frame, col, label, offset)
        if (values <= 0).any():
            i = int(np.argmax(values <= 0))
            raise DataError(f"{label}: row {i + offset}: {col} must be > 0, was {values[i]}")
        out[col] = values
    checks = (
        (out["high"] < out["low"], "high {h} is below low {lo}"),
        (out["high"] < np.maximum(out["open"], out["close"]), "high {h} is below open/close"),
        (out["low"] > np.minimum(out["open"], out["close"]), "low {lo} is above open/close"),
    )
    for mask, text in checks:
        if mask.any():
            i = int(np.argmax(mask))
            msg = text.format(h=out["high"][i], lo=out["low"][i])
            raise DataError(f"{label}: row {i + offset}: {msg}")
    if "volume" in frame.columns:
        volume = _numbers(frame, "volume", label, offset)
        if (volume < 0).any():
            i = int(np.argmax(volume < 0))
            raise DataError(f"{label}: row {i + offset}: volume must be >= 0")
        out["volume"] = volume
    return Bars(pd.DataFrame(out), step, label)


def load_funding(source: str | Path) -> Funding:
    """Load and validate funding settlements (time in ms, rate as a fraction)."""
    frame, label, offset = _read(source)
    missing = [c for c in ("funding_time", "funding_rate") if c not in frame.columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(missing)}")
    times = _times(frame, "funding_time", label, offset)
    rates = _numbers(frame, "funding_rate", label, offset)
    if (np.abs(rates) >= 1).any():
        i = int(np.argmax(np.abs(rates) >= 1))
        raise DataError(f"{label}: row {i + offset}: funding_rate {rates[i]} is not a fraction")
    return Funding(pd.DataFrame({"funding_time": times, "funding_rate": rates}), label)


def align(bars: Mapping[str, Bars]) -> None:
    """Check that several symbols' bars share the same timestamps (for one replay).

    Raises
    ------
    DataError
        Different lengths, intervals or timestamps; names the first differing row.
    """
    items = sorted(bars.items())
    if not items:
        raise DataError("align needs at least one symbol's bars")
    first_name, first = items[0]
    t0 = first.frame["timestamp"].to_numpy()
    for name, other in items[1:]:
        t = other.frame["timestamp"].to_numpy()
        if other.step_ms != first.step_ms:
            raise DataError(
                f"{name} has {other.step_ms} ms bars but {first_name} has {first.step_ms} ms"
            )
        n = min(len(t), len(t0))
        diff = t[:n] != t0[:n]
        if diff.any() or len(t) != len(t0):
            i = int(np.argmax(diff)) if diff.any() else n
            raise DataError(
                f"timestamps of {name} ({other.source}) and {first_name} ({first.source}) "
                f"differ from bar {i} on ({len(t)} vs {len(t0)} bars)"
            )
