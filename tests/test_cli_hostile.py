"""Hostile input to the command line: every error is one literal line and exit code 2
(3 for a port in use), never a traceback, and output paths are checked before the work."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perpmargin.cli import app
from perpmargin.limits import FUNDING_RATE_LIMIT

runner = CliRunner()

BUNDLE = str(Path(__file__).parent / "interop" / "fixtures" / "binance-bundle.json")
DEPTH = 100_000
CHECK = ["check", "--symbol", "BTCUSDT", "--side", "long", "--entry", "50000", "--stop",
         "48000", "--leverage", "5", "--balance", "10000"]  # fmt: skip
API_CHECK = {"symbol": "BTCUSDT", "side": "long", "entry": "50000", "stop": "48000",
             "leverage": "5", "balance": "10000"}  # fmt: skip
LIQ = ["liq", "--venue", "binance-usdm", "--side", "long", "--entry", "50000", "--qty", "0.1"]


def _deep_json(tmp: Path) -> str:
    path = tmp / "deep.json"
    path.write_text("[" * DEPTH + "]" * DEPTH)
    return str(path)


def _deep_toml(tmp: Path) -> str:
    path = tmp / "deep.toml"
    path.write_text("a = " + "[" * DEPTH + "]" * DEPTH + "\n")
    return str(path)


def _file(tmp: Path) -> str:
    path = tmp / "a-file"
    path.write_text("not a folder")
    return str(path)


def _folder(tmp: Path) -> str:
    path = tmp / "a-folder"
    path.mkdir()
    return str(path)


def _read_only(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder this process may not write in (as root, where the mode bits do not bind,
    ``os.access`` answers as it would on a read-only mount)."""
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    real = os.access

    def access(path: object, mode: int, *args: object, **kw: object) -> bool:
        if Path(str(path)) == folder and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    return folder


def _no_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay must not start when its output path is unusable."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the replay ran before its output path was checked")

    monkeypatch.setattr("perpmargin.sim.replay.replay", refuse)


def _report_is_a_file(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp)
    (tmp / "report").write_text("not a folder")


def _no_ccxt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ccxt", None)  # import fails as when not installed


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


Case = Callable[[Path, pytest.MonkeyPatch], tuple[list[str], str]]
"""Given a temp folder and monkeypatch: the arguments, and text the one line must hold."""

CASES: dict[str, Case] = {
    # markup and emoji codes in arguments are printed as typed
    "venues-markup": lambda t, m: (["venues", "[/foo]"], "'[/foo]'"),
    "venues-emoji": lambda t, m: (["venues", ":thumbs_up:"], ":thumbs_up:"),
    "replay-markup": lambda t, m: (["replay", "[/foo]"], "'[/foo]'"),
    "import-markup": lambda t, m: (["import", "[/foo]"], "'[/foo]'"),
    "liq-other-markup": lambda t, m: ([*LIQ, "--other", "[/foo]"], "'[/foo]'"),
    "stress-range-markup": lambda t, m: (
        ["stress", "binance-cross-pair", "--range", "[/foo]", "--out", str(t)],
        "'[/foo]'",
    ),
    # usage errors: one line too
    "missing-option": lambda t, m: (["liq", "--venue", "binance-usdm"], "--side"),
    "unknown-command": lambda t, m: (["no-such-command"], "no-such-command"),
    # a long message is not wrapped, a line break in an argument does not break the line
    "long-message": lambda t, m: (["replay", "no-such-scenario"], "seed-2020-03-12"),
    "newline-in-argument": lambda t, m: (
        ["replay", "seed-2020-03-12", "--json", "--data", "DOGEUSDT=a\nb"],
        "DOGEUSDT",
    ),
    # the install hint names the extra
    "live-install-hint": lambda t, m: (
        _no_ccxt(m) or ["import", "--live", "binanceusdm"],
        "pip install 'perpmargin[live]'",
    ),
    # the funding rate bound of the HTTP API
    "funding-rate-5": lambda t, m: ([*CHECK, "--funding-rate", "5"], "--funding-rate"),
    "funding-rate-minus-1": lambda t, m: ([*CHECK, "--funding-rate", "-1"], "--funding-rate"),
    # 100,000 levels of nesting
    "import-deep-json": lambda t, m: (["import", _deep_json(t)], "deep.json"),
    "venues-deep-json": lambda t, m: (["venues", _deep_json(t)], "nested too deeply"),
    "liq-venue-deep-json": lambda t, m: (
        ["liq", "--venue", _deep_json(t), "--side", "long", "--entry", "1", "--qty", "1"],
        "nested too deeply",
    ),
    "replay-deep-toml": lambda t, m: (["replay", _deep_toml(t)], "nested too deeply"),
    # output paths, checked before the work
    "export-is-a-folder": lambda t, m: (
        ["import", BUNDLE, "--export", _folder(t)],
        "a-folder: is a folder",
    ),
    "export-below-a-file": lambda t, m: (
        ["import", BUNDLE, "--export", _file(t) + "/x.json"],
        "is not a folder",
    ),
    "export-read-only": lambda t, m: (
        ["import", BUNDLE, "--export", str(_read_only(t, m) / "x.json")],
        "is not writable",
    ),
    "replay-out-is-a-file": lambda t, m: (
        _no_replay(m) or ["replay", "seed-2020-03-12", "--out", _file(t)],
        "exists and is not a folder",
    ),
    "replay-out-below-a-file": lambda t, m: (
        _no_replay(m) or ["replay", "seed-2020-03-12", "--out", _file(t) + "/report"],
        "is not a folder",
    ),
    "replay-out-read-only": lambda t, m: (
        _no_replay(m) or ["replay", "seed-2020-03-12", "--out", str(_read_only(t, m) / "r")],
        "is not writable",
    ),
    "replay-report-file-is-a-folder": lambda t, m: (
        (Path(_folder(t)) / "index.html").mkdir()
        or _no_replay(m)
        or ["replay", "seed-2020-03-12", "--no-png", "--out", str(t / "a-folder")],
        "index.html: is a folder",
    ),
    "montecarlo-out-is-a-file": lambda t, m: (
        ["montecarlo", "seed-2020-03-12", "--paths", "100", "--out", _file(t)],
        "exists and is not a folder",
    ),
    "stress-out-is-a-file": lambda t, m: (
        ["stress", "binance-cross-pair", "--out", _file(t)],
        "exists and is not a folder",
    ),
    "demo-report-is-a-file": lambda t, m: (
        _report_is_a_file(t, m) or ["demo"],
        "report: exists and is not a folder",
    ),
    # the web app's database
    "serve-db-is-a-folder": lambda t, m: (
        ["serve", "--port", "1", "--db", _folder(t)],
        "a-folder: is a folder",
    ),
    "serve-db-markup-folder": lambda t, m: (
        (t / "[/foo]").mkdir(parents=True) or ["serve", "--db", str(t / "[/foo]")],
        "[/foo]: is a folder",
    ),
}


def _one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize("name", list(CASES))
def test_one_line_exit_2(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args, shown = CASES[name](tmp_path, monkeypatch)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    line = _one_line(result.output)
    assert line.startswith("error: ")
    assert shown in line


def test_port_in_use_exits_3(busy_port: int, tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", str(busy_port), "--db", str(tmp_path / "p.db")])
    assert result.exit_code == 3, (result.output, result.exception)
    line = _one_line(result.output)
    assert f"port {busy_port}" in line
    assert "in use" in line


@pytest.mark.parametrize("rate", ["0.9999", "-0.9999", "0", "1", "-1", "5", "-2", "1e3"])
def test_cli_refuses_the_funding_rates_the_api_refuses(rate: str) -> None:
    from pydantic import ValidationError

    from perpmargin.web.schemas import CheckRequest

    try:
        CheckRequest.model_validate({**API_CHECK, "funding_rate": rate})
        api_accepts = True
    except ValidationError:
        api_accepts = False
    assert api_accepts == (-FUNDING_RATE_LIMIT < Decimal(rate) < FUNDING_RATE_LIMIT)
    result = runner.invoke(app, [*CHECK, "--funding-rate", rate, "--json"])
    if api_accepts:
        assert result.exit_code in (0, 1), result.output
        json.loads(result.stdout)
    else:
        assert result.exit_code == 2
        assert "--funding-rate" in _one_line(result.output)


def test_an_existing_export_file_is_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    out.write_text("old")
    result = runner.invoke(app, ["import", BUNDLE, "--json", "--export", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["venue"] == "binance-usdm"
    assert "overwrite" in runner.invoke(app, ["import", "--help"]).output


def test_markup_in_a_table_is_printed_as_typed() -> None:
    result = runner.invoke(app, [*CHECK[:2], "[/foo]", *CHECK[3:]])
    assert result.exit_code == 1, (result.output, result.exception)  # FAIL: not listed
    assert "[/foo]" in result.output
    assert "Traceback" not in result.output


def test_bare_command_still_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert "error:" not in result.output
