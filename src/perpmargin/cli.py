"""Command line: ``perpmargin liq``, ``check``, ``replay``, ``montecarlo``, ``advise``,
``import``, ``stress``, ``venues``, ``serve`` and ``demo``.

A thin layer over the public API: parse options, call, print a rich table or, with
``--json``, JSON with Decimal values as strings.

Every error the user can cause is one line on stderr, ``error: ...``, printed literally
(no Rich markup or emoji codes: a ``[/foo]`` in an argument is shown as typed), with exit
code 2; ``serve`` on a port already in use exits 3. :class:`_OneLineErrors` catches them
all in one place: typer/click usage errors, :class:`~perpmargin.errors.PerpMarginError`,
file-system errors (:class:`OSError`), input nested too deeply to parse
(:class:`RecursionError`) and SQLite errors. Output paths (``--out``, ``--export``,
``--save``, ``serve --db``) are checked before any work runs.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from perpmargin import limits
from perpmargin.errors import InvalidInput, PerpMarginError
from perpmargin.limits import FUNDING_RATE_LIMIT
from perpmargin.report.common import money, places_for
from perpmargin.risk.liq_price import liquidation_rows
from perpmargin.risk.pretrade import check_trade
from perpmargin.sim.data import utc_text
from perpmargin.venues import bundled_venues, load_venue, venue_summary

EXIT_ERROR = 2
"""Exit code of every error the user can cause (bad input, unusable path, ...)."""
EXIT_PORT_IN_USE = 3
"""Exit code of ``serve`` when the port is taken (uvicorn's own startup-failure code)."""


def _fold(table: Table) -> Table:
    """Fold long cells onto more lines instead of cutting them ("47,690…" reads as a
    price, and is not one)."""
    for column in table.columns:
        column.overflow = "fold"
    return table


def _places(venue: str, symbol: str) -> int:
    """Decimals of money in ``symbol``'s settle asset on ``venue``."""
    return places_for(load_venue(venue).symbol(symbol).settle)


def _console() -> Console:
    """A console wide enough for the tables when output is piped; text is printed as
    given (no markup, no emoji codes), styles only through :class:`rich.text.Text`."""
    probe = Console(markup=False, emoji=False)
    return probe if probe.is_terminal else Console(width=160, markup=False, emoji=False)


_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(text: str) -> str:
    """``text`` on one line: breaks become spaces, other control characters escapes."""
    text = _LINE_BREAKS.sub(" ", text).strip()
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text.replace("\t", " "))


def _message(exc: BaseException) -> str:
    """What went wrong, in words, for the expected kinds of failure."""
    if isinstance(exc, RecursionError):
        return f"input nested too deeply to read ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, sqlite3.Error):
        return f"database: {exc}"
    if isinstance(exc, _CLICK_ERROR):
        text = exc.format_message()  # type: ignore[attr-defined]
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        return f"{text.rstrip('.')}{where}"
    return str(exc) or type(exc).__name__


def _fail(exc: BaseException | str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``error: <message>`` as one literal line on stderr; the Exit to raise."""
    text = exc if isinstance(exc, str) else _message(exc)
    err = Console(stderr=True, markup=False, emoji=False, highlight=False, soft_wrap=True)
    err.print(Text.assemble(("error:", "red"), " ", _one_line(text)))
    return typer.Exit(code=code)


_EXPECTED: tuple[type[BaseException], ...] = (
    PerpMarginError,
    OSError,
    RecursionError,
    UnicodeError,
    sqlite3.Error,
)
"""Failures caused by what the user gave (input, paths, files): one line, exit 2. Any
other exception is a bug in perpmargin and keeps its traceback."""


def _click_error_classes() -> tuple[type[Exception], tuple[type[Exception], ...]]:
    """Click's usage-error base and its no-arguments-means-help error, from whichever
    click typer runs on (newer typer versions carry their own copy as ``typer._click``)."""
    base = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    no_args = getattr(sys.modules[base.__module__], "NoArgsIsHelpError", None)
    return base, (no_args,) if no_args is not None else ()


_CLICK_ERROR, _HELP_ON_NO_ARGS = _click_error_classes()
"""Usage errors (missing option, bad value, unknown command) are one line too; a bare
``perpmargin`` still prints the help (click >= 8.2 raises an error whose show() does)."""


class _OneLineErrors(TyperGroup):
    """The app's group: every expected error is one ``error:`` line and exit code 2."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _HELP_ON_NO_ARGS:
            raise
        except _CLICK_ERROR as exc:  # a bad option before the command
            raise _fail(exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _HELP_ON_NO_ARGS:
            raise
        except (_CLICK_ERROR, *_EXPECTED) as exc:
            raise _fail(exc) from None


app = typer.Typer(
    help="perpmargin: isolated vs cross margin, exactly as venues model it.",
    no_args_is_help=True,
    cls=_OneLineErrors,
)


def _refuse(option: str, path: Path, why: str) -> NoReturn:
    raise InvalidInput(f"{option} {path}: {why}")


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (a dangling link counts as existing)."""
    probe = path
    while not os.path.lexists(probe) and probe.parent != probe:
        probe = probe.parent
    return probe


def _check_out_dir(path: Path, option: str) -> None:
    """Refuse, before any work, a folder that cannot be written: a file, below a file,
    or in a location this process may not write."""
    if os.path.lexists(path) and not path.is_dir():
        _refuse(option, path, "exists and is not a folder")
    base = _nearest_existing(path)
    if not base.is_dir():
        _refuse(option, path, f"{base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        _refuse(option, path, f"{base} is not writable")


def _check_out_file(path: Path, option: str) -> None:
    """Refuse, before any work, a file that cannot be written: a folder, below a file, or
    not writable. An existing file is overwritten."""
    if path.is_dir():
        _refuse(option, path, "is a folder; give a file name")
    if os.path.lexists(path):
        if not os.access(path, os.W_OK):
            _refuse(option, path, "is not writable")
        return
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        _refuse(option, path, f"{base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        _refuse(option, path, f"{base} is not writable")


def _check_report_dir(path: Path, option: str, files: tuple[str, ...]) -> None:
    """A report folder and the files that will be (over)written in it."""
    _check_out_dir(path, option)
    for name in files:
        _check_out_file(path / name, option)


class _VenuesGroup(_OneLineErrors):
    """``perpmargin venues``: ``list`` (the default, so ``perpmargin venues [VENUE]``
    works as before) and ``refresh``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


venues_app = typer.Typer(
    help="Bundled venues: list them, show one's tiers (the default), or refresh one "
    "from the exchange's public API.",
    cls=_VenuesGroup,
)
app.add_typer(venues_app, name="venues")


@venues_app.command("list")
def venues(
    venue: str = typer.Argument(None, help="A bundled venue name or a venue JSON file."),
    symbol: str = typer.Option(None, help="Show this symbol's tier table."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List venues, or one venue's symbols and tiers with their source and date.

    Examples: ``perpmargin venues``, ``perpmargin venues binance-usdm --symbol BTCUSDT``.
    """
    console = _console()
    if venue is None:
        rows = [load_venue(name) for name in bundled_venues()]
        if as_json:
            out = [{"id": v.id, "version": v.version, "as_of": v.as_of} for v in rows]
            print(json.dumps(out))
            return
        table = Table(title="bundled venues")
        for col in ("id", "version", "as of", "symbols", "default mode"):
            table.add_column(col)
        for v in rows:
            names = ", ".join(v.featured)
            if len(v.symbols) > len(v.featured):  # a tier snapshot's hundreds: a count
                names += f" (+ {len(v.symbols) - len(v.featured)} more from its tier snapshot)"
            table.add_row(v.id, v.version, v.as_of, names, v.rules.default_margin_mode)
        console.print(_fold(table))
        return
    v = load_venue(venue)
    specs = [v.symbol(symbol)] if symbol else [v.symbol(x) for x in v.featured]
    if as_json:
        print(json.dumps(venue_summary(v, [s.symbol for s in specs])))
        return
    for s in specs:
        table = Table(
            title=f"{v.id} {s.symbol} ({s.ccxt_symbol}) tiers by {s.tiers.basis}",
            caption=f"source: {s.tiers_source} (as of {s.tiers_as_of})",
        )
        for col in ("tier", "from", "to", "MMR", "maint. amount", "max leverage"):
            table.add_column(col, justify="right")
        for t in s.tiers.tiers:
            table.add_row(
                str(t.tier),
                f"{t.lower:,}",
                "no cap" if t.upper is None else f"{t.upper:,}",
                f"{t.maintenance_margin_rate:%}"
                + (f" + {t.rate_per_quantity:%} per {s.base}" if t.rate_per_quantity else ""),
                f"{t.maintenance_amount:,}",
                f"{t.max_leverage}x"
                + (
                    f" at size 0 (IM {t.initial_margin_rate:%} + {t.rate_per_quantity:%} "
                    f"per {s.base})"
                    if t.rate_per_quantity
                    else ""
                ),
            )
        console.print(_fold(table))


@venues_app.command("refresh")
def venues_refresh(
    venue: str = typer.Argument(..., help="The bundled venue to refresh, e.g. bybit-linear."),
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default: ./<venue>-<date>.json)."),
    ] = None,
    symbol: Annotated[
        list[str] | None,
        typer.Option(help="Refresh only this symbol (repeatable); default: all perpetuals."),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print the diff as JSON."),
) -> None:
    """Refresh a venue's markets and tiers from the exchange's public API (ccxt, no keys).

    Writes a venue file: the bundled rules with the fresh tables, each dated.

    Example: ``perpmargin venues refresh bybit-linear --out bybit.json``; then
    ``perpmargin liq --venue bybit.json ...`` or ``pm.load_venue("bybit.json")``.
    """
    from datetime import date

    from perpmargin.interop import refresh

    refresh.check_refreshable(venue)
    day = date.today().isoformat()
    path = out if out is not None else Path(f"{venue}-{day}.json")
    _check_out_file(path, "--out")
    result = refresh.refresh_venue(venue, symbols=symbol or None, today=day)
    path.write_text(
        json.dumps(result.document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    diff = result.diff
    if as_json:
        doc = {
            "path": str(path),
            "venue": venue,
            "exchange": result.exchange,
            "symbols": len(result.venue.symbols),
            "added": list(diff.added),
            "removed": list(diff.removed),
            "changed": {c.symbol: c.first_difference for c in diff.tiers if c.changed},
            "unchanged": [c.symbol for c in diff.tiers if not c.changed],
            "kept_bundled_tiers": list(result.kept_bundled_tiers),
            "notes": result.notes,
        }
        print(json.dumps(doc))
        return
    console = _console()

    def names(items: tuple[str, ...] | list[str], most: int = 20) -> str:
        more = f", ... (+{len(items) - most})" if len(items) > most else ""
        return ", ".join(items[:most]) + more

    console.print(
        f"wrote {path}: {venue} with {len(result.venue.symbols)} symbol(s) from "
        f"{result.exchange}'s public API, as of {day}"
    )
    console.print(f"added ({len(diff.added)}): {names(diff.added) or '-'}")
    console.print(f"removed ({len(diff.removed)}): {names(diff.removed) or '-'}")
    changed = [c for c in diff.tiers if c.changed]
    console.print(f"tiers changed ({len(changed)} of {len(diff.tiers)} bundled symbols):")
    for c in changed:
        console.print(f"  {c.symbol}: {c.first_difference}")
    if result.kept_bundled_tiers:
        console.print(
            f"bundled tiers kept, not served publicly ({len(result.kept_bundled_tiers)}): "
            f"{names(result.kept_bundled_tiers)}"
        )
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(
        f"use it: --venue {path} (e.g. perpmargin liq --venue {path} ...) or "
        f"pm.load_venue({str(path)!r})"
    )


def _other(text: str) -> dict[str, str]:
    """Parse ``SYMBOL:side:qty@entry[:mark]`` (e.g. ``ETHUSDT:short:20@3000:3100``)."""
    try:
        head, _, tail = text.partition("@")
        symbol, side, qty = head.split(":")
        entry, _, mark = tail.partition(":")
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: expected SYMBOL:side:qty@entry[:mark], e.g. ETHUSDT:short:20@3000:3100"
        ) from None
    other = {"symbol": symbol, "side": side, "quantity": qty, "entry_price": entry}
    if mark:
        other["mark_price"] = mark
    return other


@app.command()
def liq(
    venue: str = typer.Option(..., help="Venue name (see `perpmargin venues`) or JSON file."),
    symbol: str = typer.Option(None, help="Venue id or ccxt symbol (tiers, tick)."),
    side: str = typer.Option(..., help="long or short."),
    entry: str = typer.Option(..., help="Entry price."),
    qty: str = typer.Option(..., help="Quantity in base units."),
    collateral: str = typer.Option(None, help="Isolated margin, or cross wallet balance."),
    mode: str = typer.Option("isolated", help="isolated, cross or both."),
    leverage: str = typer.Option(None, help="Leverage (isolated margin = notional / leverage)."),
    mark: str = typer.Option(None, help="Current mark of this position."),
    mmr: str = typer.Option(None, help="Fixed maintenance margin rate instead of tiers."),
    max_leverage: str = typer.Option(None, help="Hyperliquid: MMR = 1 / (2 x max leverage)."),
    other: list[str] = typer.Option(  # noqa: B008
        [], help="Another cross position: SYMBOL:side:qty@entry[:mark] (repeatable)."
    ),
    hedge: bool = typer.Option(False, help="Hedge mode (the other leg of the symbol moves too)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Liquidation and bankruptcy price of one position, isolated and/or cross.

    Example: ``perpmargin liq --venue binance-usdm --symbol BTCUSDT --side long
    --entry 50000 --qty 0.1 --leverage 10 --collateral 10000 --mode both``
    (isolated uses notional / leverage as margin when --collateral is for cross).
    """
    rows = [
        {"venue": venue, "symbol": symbol, **row}
        for row in liquidation_rows(
            venue, mode, side, entry, qty,
            collateral=collateral, leverage=leverage, mark_price=mark,
            maintenance_margin_rate=mmr, max_leverage=max_leverage,
            other_positions=[_other(o) for o in other],
            position_mode="hedge" if hedge else "one-way", symbol=symbol,
        )
    ]  # fmt: skip
    if as_json:
        print(json.dumps([{k: None if v is None else str(v) for k, v in r.items()} for r in rows]))
        return
    table = Table(title=f"{venue} {symbol or ''} {side} {qty} @ {entry}")
    for col in ("mode", "liquidation price", "bankruptcy price"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["margin_mode"]),
            "none" if r["liquidation_price"] is None else f"{r['liquidation_price']:,}",
            "none" if r["bankruptcy_price"] is None else f"{r['bankruptcy_price']:,}",
        )
    _console().print(table)


_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}


@app.command()
def check(
    symbol: str = typer.Option(..., help="Venue id or ccxt symbol (BTC/USDT:USDT)."),
    side: str = typer.Option(..., help="long or short."),
    entry: str = typer.Option(..., help="Entry price."),
    stop: str = typer.Option(..., help="Stop-loss price."),
    leverage: str = typer.Option(..., help="Leverage to open with."),
    balance: str = typer.Option(..., help="Wallet balance (settle asset)."),
    risk: str = typer.Option("1%", help="Risk per trade: '1%' of balance or an amount."),
    venue: list[str] = typer.Option(  # noqa: B008
        ["binance-usdm"], help="Venue (repeatable), or 'all'."
    ),
    take_profit: str = typer.Option(None, "--tp", help="Take-profit price."),
    buffer: str = typer.Option("0.5", help="WARN when liquidation is within this x stop distance."),
    funding_rate: str = typer.Option(
        "0.0001",
        help=f"Funding rate per interval (+: longs pay), strictly between "
        f"-{FUNDING_RATE_LIMIT} and {FUNDING_RATE_LIMIT}.",
    ),
    hold_hours: str = typer.Option("24", help="Hours the trade is held (funding cost)."),
    mark: str = typer.Option(
        None, "--mark", help="Mark price now: the cost to open adds the open loss (Binance)."
    ),
    portfolio: str = typer.Option(
        None, help="A unified account JSON (or bundled example): adds portfolio margin."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Pre-trade check: size from risk, liquidation vs stop, isolated and cross side by side
    (and portfolio margin with --portfolio ACCOUNT.json).

    Example: ``perpmargin check --symbol BTCUSDT --side long --entry 50000 --stop 48000
    --leverage 20 --balance 10000 --risk 1% --venue all``. Exits 1 when any check FAILs.
    """
    venues = "all" if venue == ["all"] else venue
    _check_funding_rate(funding_rate)
    unified = _unified_account(portfolio) if portfolio is not None else None
    result = check_trade(
        symbol=symbol, side=side, entry=entry, stop=stop, leverage=leverage,
        balance=balance, risk=risk, venues=venues, take_profit=take_profit,
        buffer=buffer, funding_rate=funding_rate, hold_hours=hold_hours, mark_price=mark,
        portfolio=unified,
    )  # fmt: skip
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        console = _console()
        table = Table(title=f"{side} {symbol} @ {entry}, stop {stop}, {leverage}x, risk {risk}")
        for col in (
            "venue",
            "size",
            "mode",
            "margin",
            "liquidation",
            "stop → liq",
            "worst case",
            "status",
        ):
            table.add_column(col, justify="right")
        for v in result.venues:
            if v.error:
                table.add_row(v.venue, "", "", "", v.error, "", "", Text("FAIL", "bold red"))
            places = 2 if v.error else _places(v.venue, v.symbol)
            for m in v.modes:
                table.add_row(
                    v.venue,
                    f"{v.quantity} {v.symbol}",
                    m.margin_mode,
                    money(m.initial_margin, places),
                    "none" if m.liquidation_price is None else f"{m.liquidation_price:,}",
                    ""
                    if m.stop_to_liquidation is None
                    else f"{m.stop_to_liquidation:,} ({m.stop_to_liquidation_pct}%)",
                    money(m.worst_case_loss, places),
                    Text(m.status, _STYLE[m.status]),
                )
        console.print(_fold(table))
        first = result.venues[0]
        for m in first.modes:
            console.print(Text(f"{first.venue} {m.margin_mode} checklist", "bold"))
            for item in m.checklist:
                console.print(
                    Text.assemble(
                        "  ",
                        (f"{item.status:4}", _STYLE[item.status]),
                        f" {item.name}: {item.reason}",
                    )
                )
        _print_open_loss(console, result, mark)
        if result.not_listed:
            console.print(f"Not listed there: {', '.join(result.not_listed)}")
        if result.first_to_liquidate:
            where, mode_, price = result.first_to_liquidate
            console.print(f"First to liquidate: {where} ({mode_}) at {price:,}")
    if result.status == "FAIL":
        raise typer.Exit(code=1)


def _check_funding_rate(text: str) -> None:
    """Refuse what the HTTP API and ``check_trade`` refuse, naming the option."""
    limits.funding_rate(text, "--funding-rate")


def _print_open_loss(console: Console, result: Any, mark: str | None) -> None:
    """Binance's cost to open (margin + open loss at the mark), where it counts."""
    for v in result.venues:
        if v.open_loss:
            places = _places(v.venue, v.symbol)
            console.print(
                f"{v.venue}: cost to open {money(v.cost_to_open, places)} = margin "
                f"{money(v.cost_to_open - v.open_loss, places)} + open loss "
                f"{money(v.open_loss, places)} at the mark {mark} (fees apart)",
                markup=False,
            )


def _data_refs(items: list[str], symbols: list[str], option: str) -> dict[str, str]:
    """``SYMBOL=FILE`` or ``FILE`` (symbol from the file name, or the plan's only one)."""
    out: dict[str, str] = {}
    for item in items:
        symbol, sep, path = item.partition("=")
        if not sep:
            path = item
            found = [s for s in symbols if s.lower() in Path(item).name.lower()]
            if len(found) == 1:
                symbol = found[0]
            elif len(symbols) == 1:
                symbol = symbols[0]
            else:
                raise PerpMarginError(
                    f"{option} {item}: cannot tell which of {', '.join(symbols)} it is for; "
                    f"write {option} SYMBOL=FILE"
                )
        if symbol not in symbols:
            raise PerpMarginError(f"{option} {item}: the plan has no symbol {symbol!r}")
        out[symbol] = path
    return out


def _asset_values(items: list[str], option: str) -> dict[str, str]:
    """``ASSET=NUMBER`` entries (``--contingency BTC=0.01``); the number is checked by
    whoever takes it."""
    out: dict[str, str] = {}
    for item in items:
        asset, sep, value = item.partition("=")
        if not sep or not asset.strip() or not value.strip():
            raise InvalidInput(f"{option} {item!r}: write {option} ASSET=NUMBER")
        out[asset.strip().upper()] = value.strip()
    return out


@app.command()
def replay(
    scenarios: Annotated[
        list[str],
        typer.Argument(
            help="Scenario TOML files, bundled scenario names, or 'all' (every bundled one)."
        ),
    ],
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="Bars for a symbol: SYMBOL=FILE or FILE (CSV/Parquet)."),
    ] = None,
    funding: Annotated[
        list[str] | None, typer.Option("--funding", help="Funding file: SYMBOL=FILE or FILE.")
    ] = None,
    marks: Annotated[
        list[str] | None, typer.Option("--marks", help="Mark-price bars: SYMBOL=FILE or FILE.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Report folder (default ./report); files already there are overwritten."
        ),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (no report unless --out)."),
    series: bool = typer.Option(False, "--series", help="With --json: include the series."),
    no_png: bool = typer.Option(False, "--no-png", help="Skip the PNG charts."),
    portfolio: str = typer.Option(
        None, help="Also replay under portfolio margin: unified rules (binance-pm, ...)."
    ),
    collateral: str = typer.Option(
        None, help="With --portfolio: the asset the balance is held in (e.g. BTC)."
    ),
    contingency: Annotated[
        list[str] | None,
        typer.Option(
            "--contingency",
            help="With risk-based --portfolio rules: a risk unit's contingency rate, "
            "ASSET=RATE (not published by the venues).",
        ),
    ] = None,
    haircut: Annotated[
        list[str] | None,
        typer.Option(
            "--haircut",
            help="With --portfolio rules that publish no table for an asset: its collateral "
            "rate, ASSET=RATE (one rate for any amount, e.g. USDT=1).",
        ),
    ] = None,
    interest: Annotated[
        list[str] | None,
        typer.Option(
            "--interest",
            help="With --portfolio: an hourly interest rate on what the account owes in an "
            "asset, ASSET=RATE (the venues publish theirs live only).",
        ),
    ] = None,
    price_move: Annotated[
        list[str] | None,
        typer.Option(
            "--price-move",
            help="With risk-based --portfolio rules: the largest price move of an "
            "underlying, ASSET=FRACTION (e.g. BTC=0.16 for Deribit PM's +-16 %).",
        ),
    ] = None,
    tiers_of_the_day: bool = typer.Option(
        False,
        "--tiers-of-the-day",
        help="Use the venue's tier tables of the first bar's day where their history is "
        "bundled (Binance BTCUSDT, ETHUSDT since 2022-02).",
    ),
) -> None:
    """Replay a plan on bars, once per margin mode, and report them side by side.

    Examples: ``perpmargin replay all``, ``perpmargin replay seed-2020-03-12``,
    ``perpmargin replay my.toml --data BTCUSDT=btc.parquet --out out/``.
    """
    from perpmargin.report import plan_result_dict, print_summary, write_report
    from perpmargin.report.terminal import print_three_modes
    from perpmargin.sim.market import load_market
    from perpmargin.sim.plan import load_plans
    from perpmargin.sim.portfolio import portfolio_run_dict, replay_portfolio
    from perpmargin.sim.replay import replay as run_replay

    console = _console()
    report_dir = out if out is not None or as_json else Path("report")
    if report_dir is not None:  # before the replay, which can take a while
        _check_report_dir(report_dir, "--out", ("index.html",))
    extras = (contingency, price_move, haircut, interest)
    if (collateral is not None or any(extras)) and portfolio is None:
        raise InvalidInput(
            "--collateral, --contingency, --haircut, --interest and --price-move go with "
            "--portfolio RULES"
        )
    hourly = _asset_values(interest or [], "--interest")
    rates = _asset_values(contingency or [], "--contingency")
    ranges = _asset_values(price_move or [], "--price-move")
    haircuts = {a: [("0", "", r)] for a, r in _asset_values(haircut or [], "--haircut").items()}
    if scenarios == ["all"]:
        from perpmargin.demo import story_order

        names = story_order()
    else:
        names = scenarios
    plans = [plan for name in names for plan in load_plans(name)]
    results = []
    for plan in plans:
        market = load_market(
            plan,
            bars=_data_refs(data or [], plan.symbols, "--data"),
            funding=_data_refs(funding or [], plan.symbols, "--funding"),
            marks=_data_refs(marks or [], plan.symbols, "--marks"),
        )
        venue_then = (
            load_venue(plan.venue, as_of=utc_text(int(market.times[0]))[:10])
            if tiers_of_the_day
            else None
        )
        results.append(
            run_replay(plan, market, venue=venue_then, progress=None if not as_json else False)
        )
    third = [
        replay_portfolio(
            r.plan, portfolio, collateral=collateral, market=r.market,
            contingency=rates, price_moves=ranges, haircuts=haircuts, interest=hourly,
            venue=load_venue(r.plan.venue, as_of=utc_text(int(r.market.times[0]))[:10])
            if tiers_of_the_day else None,
        )
        for r in results
    ] if portfolio is not None else []  # fmt: skip
    paths = {}
    if report_dir is not None:
        third_by_plan = {r.plan.name: run for r, run in zip(results, third, strict=False)}
        paths = write_report(results, report_dir, png=not no_png, portfolio=third_by_plan)
    if as_json:
        docs = [plan_result_dict(r, series=series) for r in results]
        for doc, run in zip(docs, third, strict=False):
            doc["portfolio"] = portfolio_run_dict(run)
        print(json.dumps(docs))
        return
    print_summary(results, console)
    if tiers_of_the_day:
        for r in results:
            v = load_venue(r.plan.venue, as_of=utc_text(int(r.market.times[0]))[:10])
            used = ", ".join(
                f"{s} table of {v.symbol(s).tiers_as_of or 'unknown date'}" for s in r.plan.symbols
            )
            console.print(Text(f"{r.plan.name}: tiers of the day: {used}"))
    for result, run in zip(results, third, strict=False):
        print_three_modes(console, result, run)
    console.print(f"Report: {paths['html'].resolve()}")


@app.command()
def montecarlo(
    scenario: Annotated[str, typer.Argument(help="Scenario TOML file or bundled name.")],
    paths: int = typer.Option(10_000, "--paths", help="Number of simulated paths."),
    steps: int = typer.Option(None, "--steps", help="Steps per path (default: the plan's bars)."),
    model: str = typer.Option("gbm", "--model", help="gbm, jump or bootstrap."),
    backend: str = typer.Option(
        "numba", "--backend", help="numba (CPU threads), numpy, cuda (a GPU) or dask."
    ),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    seed: int = typer.Option(0, "--seed"),
    variant: int = typer.Option(0, "--variant", help="Which plan of the file (0: the base)."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write montecarlo.html into this folder (an existing one is overwritten).",
        ),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Monte Carlo of a plan under isolated and cross: P(liquidation), VaR/ES, time to it.

    Example: ``perpmargin montecarlo seed-2020-03-12 --paths 1000000 --backend numba --json``.
    """
    from rich.progress import Progress

    from perpmargin.sim.montecarlo import montecarlo as run_mc
    from perpmargin.sim.plan import load_plans

    console = _console()
    if out is not None:  # before the simulation, which can take a while
        _check_report_dir(out, "--out", ("montecarlo.html",))
    plans = load_plans(scenario)
    if not 0 <= variant < len(plans):
        raise PerpMarginError(f"--variant must be from 0 to {len(plans) - 1}")
    plan = plans[variant]
    show = not as_json and console.is_terminal
    progress_console = Console(stderr=True, markup=False, emoji=False)
    with Progress(console=progress_console, transient=True, disable=not show) as bar:
        task = bar.add_task("paths", total=paths)
        result = run_mc(
            plan,
            paths=paths,
            steps=steps,
            model=model,  # type: ignore[arg-type]
            seed=seed,
            backend=backend,  # type: ignore[arg-type]
            scheduler=scheduler,
            progress=lambda k: bar.update(task, advance=k),
        )
    page = None
    if out is not None:
        from perpmargin.report.mc import write_mc_html

        page = write_mc_html(result, out / "montecarlo.html", f"Monte Carlo: {plan.name}")
    if as_json:
        doc = {"name": plan.name, **result.to_dict()}
        print(json.dumps(doc))
        return
    table = Table(title=f"{plan.name}: {paths:,} paths x {result.steps:,} steps ({model})")
    for col in (
        "mode",
        "P(liquidation)",
        "95% CI",
        "P(stop/TP)",
        "mean final",
        "VaR 99",
        "ES 99",
        "median steps",
    ):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for mode, s in result.stats.items():
        table.add_row(
            mode,
            f"{s.liquidation_probability:.4f}",
            f"{s.ci95[0]:.4f}..{s.ci95[1]:.4f}",
            f"{s.exit_probability:.4f}",
            money(s.mean_final_equity, places_for(result.settle)),
            money(s.loss_var99, places_for(result.settle)),
            money(s.loss_es99, places_for(result.settle)),
            "-" if s.median_steps_to_liquidation is None else f"{s.median_steps_to_liquidation:g}",
        )
    console.print(_fold(table))
    for note in result.notes:
        console.print(f"Note: {note}.")
    if page is not None:
        console.print(f"Report: {page.resolve()}")


_MODES = ("isolated", "cross")


def _modes(text: str, option: str, item: str) -> list[str]:
    """``isolated,cross`` as a list of margin modes (each checked)."""
    modes = [m.strip().lower() for m in text.split(",")]
    for m in modes:
        if m not in _MODES:
            raise InvalidInput(f"{option} {item}: modes are 'isolated' and 'cross', was {m!r}")
    return modes


def _allowed_modes(items: list[str], symbols: list[str]) -> dict[str, list[str]] | None:
    """``--allow SYMBOL=isolated`` (repeatable; ``SYMBOL=isolated,cross`` too): the modes
    each named symbol may take."""
    if not items:
        return None
    out: dict[str, list[str]] = {}
    for item in items:
        symbol, sep, modes = item.partition("=")
        symbol = symbol.strip()
        if not sep or not symbol or not modes.strip():
            raise InvalidInput(
                f"--allow {item}: expected SYMBOL=MODES, e.g. BTCUSDT=isolated or "
                "ETHUSDT=isolated,cross"
            )
        if symbol not in symbols:
            raise InvalidInput(
                f"--allow {item}: the plan has no symbol {symbol!r} (it holds {', '.join(symbols)})"
            )
        given = out.setdefault(symbol, [])
        given.extend(m for m in _modes(modes, "--allow", item) if m not in given)
    return out


def _current_modes(text: str | None, positions: list[str]) -> list[str] | None:
    """``--current isolated,cross``: one mode per position, in the plan's order."""
    if text is None:
        return None
    modes = _modes(text, "--current", text)
    if len(modes) != len(positions):
        raise InvalidInput(
            f"--current {text}: give one mode per position, {len(positions)} "
            f"({', '.join(positions)}), was {len(modes)}"
        )
    return modes


def _grid(text: str) -> list[float]:
    """``--grid 1,1.5,2,3``: the isolated margins tried, as multiples of each position's
    initial margin (the advisor checks their range)."""
    try:
        return [float(g) for g in text.split(",")]
    except ValueError:
        raise InvalidInput(
            f"--grid {text}: expected multiples separated by commas, e.g. 1,1.5,2,3"
        ) from None


def _advice_out(out: Path) -> Path:
    """The HTML file ``--out`` names (checked, as the PNG beside it); the PNG's path."""
    if out.suffix.lower() not in (".html", ".htm"):
        _refuse("--out", out, "give an .html file name (the PNG is written next to it)")
    png = out.with_suffix(".png")
    _check_out_file(out, "--out")
    _check_out_file(png, "--out")
    return png


def _json_scalar(value: Any) -> Any:
    """numpy scalars (a numpy bool among them) as Python's, for ``json.dumps``."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@app.command()
def advise(
    scenario: Annotated[str, typer.Argument(help="Scenario TOML file or bundled name.")],
    objective: str = typer.Option(
        "ruin",
        "--objective",
        help="liquidation, ruin, cvar (least) or growth (most, P(ruin) <= beta).",
    ),
    paths: int = typer.Option(20_000, "--paths", help="Number of simulated paths."),
    steps: int = typer.Option(None, "--steps", help="Steps per path (default: the plan's bars)."),
    model: str = typer.Option("jump", "--model", help="gbm, jump or bootstrap."),
    seed: int = typer.Option(0, "--seed"),
    beta: float = typer.Option(0.05, "--beta", help="growth: the most P(ruin) allowed (0 to 1)."),
    ruin_fraction: float = typer.Option(
        0.1, "--ruin-fraction", help="Ruin: ending with at most this fraction of the start."
    ),
    grid: str = typer.Option(
        "1,1.5,2,3", "--grid", help="Isolated margins tried, as multiples of the initial margin."
    ),
    budget: float = typer.Option(
        None, "--budget", help="At most this much isolated margin in all (default: the wallet)."
    ),
    allow: list[str] = typer.Option(  # noqa: B008
        [], "--allow", help="Restrict a symbol's modes: SYMBOL=isolated (repeatable)."
    ),
    current: str = typer.Option(
        None, "--current", help="Your setting, one mode per position: isolated,cross."
    ),
    confirm_paths: int = typer.Option(
        4, "--confirm-paths", help="Simulated paths replayed through the exact engine."
    ),
    variant: int = typer.Option(0, "--variant", help="Which plan of the file (0: the base)."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write this HTML report and a PNG next to it (both overwritten)."
        ),
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print the advice as JSON."),
) -> None:
    """Which positions to isolate, with how much margin, and which to pool in cross:
    every setting on the same simulated paths, the best by the objective, compared with
    your setting, all isolated and all cross, and checked against the exact engine.

    Example: ``perpmargin advise pair-2022-11-08 --paths 20000``.
    """
    from rich.progress import Progress

    from perpmargin.sim.advisor import advise as run_advisor
    from perpmargin.sim.plan import load_plans

    console = _console()
    png = _advice_out(out) if out is not None else None  # before the search
    plans = load_plans(scenario)
    if not 0 <= variant < len(plans):
        raise PerpMarginError(f"--variant must be from 0 to {len(plans) - 1}")
    plan = plans[variant]
    symbols = [p.symbol for p in plan.positions]
    allowed = _allowed_modes(allow, symbols)
    mine = _current_modes(current, [f"{p.symbol} {p.side}" for p in plan.positions])
    levels = _grid(grid)
    show = not as_json and console.is_terminal
    progress_console = Console(stderr=True, markup=False, emoji=False)
    with Progress(console=progress_console, transient=True, disable=not show) as bar:
        task = bar.add_task("paths", total=paths)
        advice = run_advisor(
            plan,
            objective=objective,  # type: ignore[arg-type]
            paths=paths,
            steps=steps,
            model=model,  # type: ignore[arg-type]
            seed=seed,
            beta=beta,
            ruin_fraction=ruin_fraction,
            grid=levels,
            budget=budget,
            allowed=allowed,
            current=mine,
            confirm_paths=confirm_paths,
            progress=lambda k: bar.update(task, advance=k),
            chunk_paths=min(20_000, max(1_000, paths // 50)) if show else 20_000,
        )
    page = None
    if out is not None and png is not None:
        from perpmargin.report.advice import write_advice_html, write_advice_png

        page = write_advice_html(advice, out)
        write_advice_png(advice, png)
    if as_json:
        from perpmargin.report.jsonout import jsonable

        doc = jsonable(advice.to_dict())
        if page is not None and png is not None:
            doc["report"] = {"html": str(page), "png": str(png)}
        print(json.dumps(doc, default=_json_scalar))
        return
    from perpmargin.report.advice import print_advice

    print_advice(advice, console)
    if page is not None and png is not None:
        console.print(f"Report: {page.resolve()} and {png.name}")


def _bundle_source(path: str) -> str:
    """A bundle file, or the name of a bundled example (``binance-cross-pair``)."""
    from importlib import resources

    if Path(path).exists():
        return path
    examples = resources.files("perpmargin") / "examples"
    candidate = examples / f"{path}.json"
    if candidate.is_file():
        return str(candidate)
    names = sorted(
        p.name.removesuffix(".json") for p in examples.iterdir() if p.name.endswith(".json")
    )
    raise PerpMarginError(
        f"no file {path!r} and no bundled example of that name ({', '.join(names)})"
    )


def _load_imported(
    source: str | None,
    venue: str | None,
    balance: str | None,
    tiers: str | None,
    markets: str | None,
    balance_kind: str | None,
    live: str | None,
    save: Path | None,
) -> Any:
    from perpmargin.interop import fetch_bundle, import_bundle, load_ccxt_bundle

    if (source is None) == (live is None):
        raise PerpMarginError("give a saved file (FILE) or --live EXCHANGE, not both or neither")
    if live is not None:
        doc: dict[str, Any] = fetch_bundle(live)
        if save is not None:
            save.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
    else:
        assert source is not None
        try:
            doc = load_ccxt_bundle(_bundle_source(source))
        except RecursionError:
            raise InvalidInput(f"{source}: nested too deeply to read") from None
    for key, ref in (("balance", balance), ("leverage_tiers", tiers), ("markets", markets)):
        if ref is not None:
            doc[key] = ref
    if balance_kind is not None:
        doc["balance_kind"] = balance_kind
    return import_bundle(doc, venue=venue)


def _unified_account_and_notes(source: str) -> tuple[Any, list[str]]:
    """A unified account from a JSON file (or a bundled example): perpmargin's own shape,
    or ccxt's (``{"exchange", "balance", "positions", "index_prices", "collateral"?}``),
    and the notes on how it was read."""
    from perpmargin.engine.unified import UnifiedAccount

    path = Path(_bundle_source(source))
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{source}: not a readable JSON account ({exc})") from None
    notes: list[str] = []
    if isinstance(doc, dict) and "balance" in doc:  # ccxt shapes
        from perpmargin.interop.unified_in import unified_from_ccxt

        extra = sorted(set(doc) - {"exchange", "rules", "balance", "positions", "index_prices",
                                    "collateral"})  # fmt: skip
        if extra:
            raise InvalidInput(f"unknown field(s) {', '.join(map(repr, extra))} in a ccxt account")
        account, notes = unified_from_ccxt(
            doc["balance"], doc.get("positions", []), doc.get("index_prices", {}),
            exchange=doc.get("exchange"), rules=doc.get("rules"), collateral=doc.get("collateral"),
        )  # fmt: skip
    else:
        account = UnifiedAccount.from_dict(doc)
    return account, notes


def _unified_account(source: str) -> Any:
    return _unified_account_and_notes(source)[0]


def _price_text(value: Any) -> str:
    return "none" if value is None else f"{value:,}"


def _move_text(value: Any) -> str:
    return "none within -99 %..+1000 %" if value is None else f"{value * 100:+.2f} %"


@app.command()
def portfolio(
    source: Annotated[
        str,
        typer.Argument(help="Unified account JSON (or a bundled example's name)."),
    ],
    leverage: str = typer.Option("10", help="Isolated margin = notional / leverage."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    stress: bool = typer.Option(
        False, "--stress", help="Also the shock grid: the two largest underlyings -60..+60 %."
    ),
    sigma: Annotated[
        list[str] | None,
        typer.Option(
            "--sigma",
            help="Also a Monte Carlo: an underlying's volatility per step, ASSET=SIGMA "
            "(one or two; e.g. BTC=0.001 for 0.1 % a minute).",
        ),
    ] = None,
    paths: int = typer.Option(10_000, help="With --sigma: Monte Carlo paths."),
    steps: int = typer.Option(1440, help="With --sigma: steps per path."),
    correlation: float = typer.Option(0.0, help="With two --sigma: their correlation."),
) -> None:
    """A unified (portfolio-margin) account: its ratio, and every position's liquidation
    price under isolated, cross and portfolio margin side by side; with ``--stress`` its
    shock grid, with ``--sigma`` the odds of its liquidation (numba kernels, checked
    against the exact account in the tests).

    The file holds the rules (binance-pm, bybit-uta, okx-multi-currency or a rules
    file), balances per asset, index prices, positions and optional haircut tables; or,
    in ccxt's shapes, ``{"exchange", "balance" (fetch_balance), "positions"
    (fetch_positions), "index_prices", "collateral"?}``.
    Example: ``perpmargin portfolio unified-btc-collateral``.
    """
    from perpmargin.risk.modes import compare_modes, comparison_dict

    account, notes = _unified_account_and_notes(source)
    vols = _asset_values(sigma or [], "--sigma")
    result = compare_modes(account, leverage=leverage)
    reading = result.unified
    extra = _portfolio_extras(account, stress, vols, paths, steps, correlation)
    if as_json:
        print(json.dumps({**comparison_dict(result, tuple(notes)), **extra}))
        return
    console = _console()
    console.print(Text(f"{account.rules.name}: {reading.words()}"))
    assets = Table(title="collateral")
    for col in ("asset", "wallet", "futures uPnL", "index", "value USD", "counts USD"):
        assets.add_column(col, justify="right")
    for a in reading.assets:
        places = places_for(a.asset)
        assets.add_row(a.asset, money(a.wallet, places), money(a.unrealized_pnl, places),
                       f"{a.index_price:,}", money(a.value), money(a.collateral))  # fmt: skip
    console.print(_fold(assets))
    if reading.units:  # risk-based rules: the maintenance is the risk units' scenarios
        units = Table(title="risk units (maintenance = worst loss over the moves + add-on)")
        for col in ("underlying", "worst loss USD", "at move", "add-on USD", "maintenance USD",
                    "initial margin USD"):  # fmt: skip
            units.add_column(col, justify="right")
        for u in reading.units:
            units.add_row(u.base, money(u.max_loss), f"{u.worst_move * 100:+.2f} %",
                          money(u.contingency), money(u.maintenance),
                          "not published" if u.initial_margin is None
                          else money(u.initial_margin))  # fmt: skip
        console.print(_fold(units))
    table = Table(title=f"liquidation price by margin mode (isolated at {result.leverage}x)")
    for col in ("position", "mark", "isolated", "cross (settle wallet)", "portfolio",
                "portfolio move"):  # fmt: skip
        table.add_column(col, justify="right")
    for p in result.positions:
        table.add_row(
            f"{p.symbol} {p.side} {p.quantity}", f"{p.mark_price:,}",
            _price_text(p.isolated_liquidation), _price_text(p.cross_liquidation),
            _price_text(p.portfolio_liquidation), _move_text(p.portfolio_move),
        )  # fmt: skip
    console.print(_fold(table))
    surface = ", ".join(
        f"{b} {_move_text(down)} / {_move_text(up)}" for b, (down, up) in result.surface.items()
    )
    console.print(Text(f"Liquidating move of each underlying, others held (down / up): {surface}"))
    for note in (*notes, *result.notes, *reading.notes):
        console.print(Text(f"- {note}"))
    _print_portfolio_extras(console, extra)


def _portfolio_extras(
    account: Any, stress: bool, vols: dict[str, str], paths: int, steps: int, correlation: float
) -> dict[str, Any]:
    """``perpmargin portfolio --stress`` / ``--sigma``: the shock grid and the Monte Carlo
    of the account, as JSON-ready values."""
    extra: dict[str, Any] = {}
    if stress:
        from perpmargin.sim.unified_grid import unified_stress_grid

        extra["stress"] = unified_stress_grid(account).to_dict()
    if vols:
        from perpmargin.sim.unified_grid import unified_montecarlo

        try:
            numbers = [float(v) for v in vols.values()]
        except ValueError:
            raise InvalidInput("--sigma ASSET=SIGMA takes a number") from None
        extra["odds"] = unified_montecarlo(
            account, sigma=numbers, assets=list(vols), paths=paths, steps=steps,
            correlation=correlation,
        ).to_dict()  # fmt: skip
    return extra


def _print_portfolio_extras(console: Console, extra: dict[str, Any]) -> None:
    if "stress" in extra:
        g = extra["stress"]["summary"]
        moves = ", ".join(f"{a} {m * 100:+.0f} %" for a, m in g["worst_moves"].items())
        console.print(Text(
            f"Shock grid ({' x '.join(extra['stress']['assets'])}, -60 %..+60 % in 5 % steps): "
            f"liquidated in {g['liquidated_cells']:,} of {g['cells']:,} cells; the worst cell "
            f"({moves}) leaves an adjusted equity of {g['worst_adjusted_equity_usd']:,.2f} USD"
        ))  # fmt: skip
    if "odds" in extra:
        o = extra["odds"]
        lo, hi = o["interval_95"]
        console.print(Text(
            f"Monte Carlo ({o['paths']:,} paths x {o['steps']:,} steps, {', '.join(o['assets'])}): "
            f"P(liquidated) {o['p_liquidation']:.2%} (95 %: {lo:.2%}..{hi:.2%}); judged at "
            "every step's prices"
        ))  # fmt: skip


@app.command("import")
def import_(
    source: Annotated[
        str | None,
        typer.Argument(help="Saved ccxt JSON: a fetch_positions list or a bundle object."),
    ] = None,
    venue: str = typer.Option(None, help="Venue rules (default: from the file's exchange)."),
    balance: str = typer.Option(None, help="fetch_balance JSON file."),
    tiers: str = typer.Option(None, help="fetch_leverage_tiers JSON file."),
    markets: str = typer.Option(None, help="fetch_markets JSON file."),
    balance_kind: str = typer.Option(
        None, help="equity (balance total includes uPnL, default) or wallet."
    ),
    live: str = typer.Option(
        None, help="Fetch read-only from this ccxt exchange (keys from PERPMARGIN_API_*)."
    ),
    save: Path = typer.Option(  # noqa: B008
        None, help="With --live: save the fetched bundle (no keys); overwrites the file."
    ),
    export: Path = typer.Option(  # noqa: B008
        None, help="Write ccxt-shaped positions + balance here; overwrites the file."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print ccxt positions + reconciliation."),
) -> None:
    """Import positions saved from ccxt (or fetched live), show perpmargin's numbers and
    how they compare with what the venue reported.

    Example: ``perpmargin import positions.json --venue binance-usdm --balance balance.json``.
    """
    from perpmargin.interop import balance_to_ccxt, positions_to_ccxt, reconcile

    console = _console()
    if export is not None:
        _check_out_file(export, "--export")
    if save is not None:
        _check_out_file(save, "--save")
    imp = _load_imported(source, venue, balance, tiers, markets, balance_kind, live, save)
    rows = reconcile(imp)
    doc = {
        "venue": imp.venue.id,
        "wallet_balance": str(imp.wallet_balance),
        "balance_source": imp.balance_source,
        "positions": positions_to_ccxt(imp.account),
        "balance": balance_to_ccxt(imp.account),
        "reconcile": [r.to_dict() for r in rows],
        "notes": imp.notes,
    }
    if export is not None:
        export.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if as_json:
        print(json.dumps(doc))
        return
    acct = imp.account
    table = Table(
        title=f"{imp.venue.id}: wallet {imp.wallet_balance} {imp.settle}, "
        f"equity {money(acct.equity, places_for(imp.settle))}"
    )
    for col in ("position", "mode", "qty", "entry", "mark", "uPnL", "margin ratio",
                "liq (perpmargin)", "liq (venue)", "diff ticks", ""):  # fmt: skip
        table.add_column(col, justify="left" if col in ("position", "mode", "") else "right")
    liq_rows = {(r.symbol, r.side): r for r in rows if r.field == "liquidationPrice"}
    for v in acct.positions():
        r = liq_rows.get((v.symbol, v.side))
        table.add_row(
            f"{v.symbol} {v.side}",
            v.margin_mode,
            f"{v.quantity}",
            f"{v.entry_price:,}",
            f"{v.mark_price:,}",
            money(v.unrealized_pnl, places_for(imp.settle)),
            f"{v.margin_ratio:.4f}",
            "-" if v.liquidation_price is None else f"{v.liquidation_price:,}",
            "-" if r is None or r.reported is None else f"{r.reported:,}",
            "-" if r is None or r.ticks is None else f"{r.ticks:,.1f}",
            "" if r is None else r.status,
        )
    console.print(_fold(table))
    for note in imp.notes:
        console.print(f"note: {note}")
    if export is not None:
        console.print(f"Exported: {export.resolve()}")


def _shock_range(text: str, option: str) -> Any:
    import numpy as np

    try:
        lo, hi, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise typer.BadParameter(
            f"{option} {text!r}: expected MIN:MAX:STEP in %, e.g. -60:60:5"
        ) from None
    if step <= 0 or hi < lo:
        raise typer.BadParameter(f"{option} {text!r}: need MIN <= MAX and STEP > 0")
    return np.round(np.arange(lo, hi + step / 2, step), 9) / 100.0


@app.command()
def stress(
    source: Annotated[
        str, typer.Argument(help="Portfolio: saved ccxt bundle/positions file or example name.")
    ],
    venue: str = typer.Option(None, help="Venue rules (default: from the file's exchange)."),
    assets: str = typer.Option(None, help="One or two assets to shock, e.g. BTC,ETH."),
    shock_range: str = typer.Option("-60:60:5", "--range", help="Shocks in %: MIN:MAX:STEP."),
    range_y: str = typer.Option(None, "--range-y", help="Second asset's shocks (default --range)."),
    day: list[str] = typer.Option(  # noqa: B008
        None, "--day", help="Historical day(s) to apply (default: all bundled); 'none' to skip."
    ),
    backend: str = typer.Option("numpy", help="Fast-kernel backend: numpy, numba, cuda, dask."),
    out: Path = typer.Option(  # noqa: B008
        Path("report"), "--out", help="Folder for stress.html / .png (overwritten if there)."
    ),
    no_png: bool = typer.Option(False, "--no-png", help="Skip the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (still writes the report)."),
) -> None:
    """Shock grid and historical crash days applied to a portfolio, under its current modes,
    all isolated and all cross; heatmaps of where cross takes the whole account.

    Example: ``perpmargin stress binance-cross-pair --assets BTC,ETH --range -60:60:5``.
    """
    from perpmargin.report.stress import write_stress_html, write_stress_png
    from perpmargin.sim.stress import historical_days, historical_stress, stress_grid

    console = _console()
    _check_report_dir(out, "--out", ("stress.html",) if no_png else ("stress.html", "stress.png"))
    imp = _load_imported(source, venue, None, None, None, None, None, None)
    xs = _shock_range(shock_range, "--range")
    ys = _shock_range(range_y, "--range-y") if range_y else None
    chosen = [a.strip() for a in assets.split(",")] if assets else None
    grid = stress_grid(imp.account, assets=chosen, shocks=xs, shocks_y=ys, backend=backend)
    wanted = day or historical_days()
    if [d.lower() for d in wanted] == ["none"]:
        wanted = []
    days = [historical_stress(imp.account, d) for d in wanted]
    notes = list(dict.fromkeys([*imp.notes, *grid.notes, *(n for d in days for n in d.notes)]))
    title = f"Stress: {Path(source).stem} on {imp.venue.id}"
    page = write_stress_html(grid, out / "stress.html", title, days=days, notes=notes)
    png = None if no_png else write_stress_png(grid, out / "stress.png", days=days)
    if as_json:
        print(json.dumps({"grid": grid.to_dict(), "days": [d.to_dict() for d in days],
                          "notes": notes, "report": str(page)}))  # fmt: skip
        return
    table = Table(
        title=f"shock grid: {' x '.join(grid.assets)}, equity now "
        f"{money(grid.start_equity, places_for(grid.settle))}"
    )
    for col in ("reading", "worst equity", "at shock", "cells with a liquidation",
                "cells wiped out", "smallest wipe-out shock"):  # fmt: skip
        table.add_column(col, justify="left" if col == "reading" else "right")
    for name, s in grid.summary().items():
        table.add_row(
            name,
            money(s["worst_equity"], places_for(grid.settle)),
            ", ".join(f"{v:+.0%}" for v in s["worst_shock"]),
            f"{s['cells_with_liquidation']:.1%}",
            f"{s['cells_wiped_out']:.1%}",
            "-" if s["smallest_wipe_out_shock"] is None else f"{s['smallest_wipe_out_shock']:.0%}",
        )
    console.print(_fold(table))
    if days:
        t2 = Table(title="historical days applied to this portfolio (exact engine)")
        for col in ("day", "reading", "final equity", "lowest equity", "liquidated", "wiped out"):
            t2.add_column(col, justify="right" if "equity" in col else "left")
        for d in days:
            for name, run in d.runs.items():
                t2.add_row(
                    d.day,
                    name,
                    money(run.final_equity, places_for(grid.settle)),
                    money(run.min_equity, places_for(grid.settle)),
                    ", ".join(leg for _, leg, _ in run.liquidations) or "no",
                    "-" if run.wiped_out_time is None else utc_text(run.wiped_out_time),
                )
        console.print(_fold(t2))
    for note in notes:
        console.print(f"note: {note}")
    console.print(f"Report: {page.resolve()}" + (f" and {png.name}" if png else ""))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="Port."),
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="SQLite file for saved scenarios (default: $PERPMARGIN_DB "
            "or ~/.local/share/perpmargin/perpmargin.db).",
        ),
    ] = None,
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Listen on a non-loopback address (no login: take care)."
    ),
) -> None:
    """Start the local web app: calculator, side-by-side replay, Monte Carlo odds, venues.

    Example: ``perpmargin serve`` then open http://127.0.0.1:8000/. Exits 3 when the
    port is already in use, 2 on any other error.
    """
    from perpmargin.web.app import default_db_path
    from perpmargin.web.server import is_local
    from perpmargin.web.server import serve as run_server

    if 0 < port < 65536 and (allow_remote or is_local(host)):  # else run_server says why
        if db is not None:
            _check_db(db, "--db")
        else:
            env = "PERPMARGIN_DB" if os.environ.get("PERPMARGIN_DB") else None
            _check_db(default_db_path(), f"${env}" if env else "database")
        _check_port(host, port)
    run_server(host, port, db_path=db, allow_remote=allow_remote)


def _check_db(path: Path, option: str) -> None:
    """The SQLite file must be a file (or creatable) in a folder this process can write."""
    if path.is_dir():
        _refuse(option, path, "is a folder; give the database file, e.g. perpmargin.db")
    _check_out_file(path, option)


def _check_port(host: str, port: int) -> None:
    """Bind where uvicorn will (each address of ``host``, SO_REUSEADDR as it does) and
    let go: a port in use is one line and exit 3, before the app starts."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidInput(f"--host {host}: cannot resolve it ({exc})") from None
    unavailable: OSError | None = None
    bound = 0
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise _fail(
                        f"port {port} on {host} is already in use; stop what holds it or "
                        "pass --port with another number",
                        code=EXIT_PORT_IN_USE,
                    ) from None
                if exc.errno != errno.EADDRNOTAVAIL:  # as asyncio: skip a disabled family
                    raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
                unavailable = exc
            else:
                bound += 1
    if not bound:
        why = unavailable.strerror if unavailable is not None else "no address"
        raise InvalidInput(f"cannot listen on {host}:{port}: {why}")


@app.command()
def demo() -> None:
    """Replay every bundled scenario (real crashes), isolated vs cross, and write the report
    into ./report (files already there are overwritten)."""
    from perpmargin.demo import main as run_demo

    _check_report_dir(Path("report"), "report folder", ("index.html", "stress.html"))
    run_demo()


def main() -> None:
    """Console-script entry point."""
    app()
