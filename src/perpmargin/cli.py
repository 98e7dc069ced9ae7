"""Command line: ``perpmargin liq``, ``check``, ``replay``, ``montecarlo``, ``import``,
``stress``, ``venues``, ``serve`` and ``demo``.

A thin layer over the public API: parse options, call, print a rich table or, with
``--json``, JSON with Decimal values as strings. Bad input exits with code 2 and a message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from perpmargin.errors import PerpMarginError
from perpmargin.risk.liq_price import liquidation_rows
from perpmargin.risk.pretrade import check_trade
from perpmargin.sim.data import utc_text
from perpmargin.venues import bundled_venues, load_venue, venue_summary


def _console() -> Console:
    """A console wide enough for the tables when output is piped."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)


app = typer.Typer(
    help="perpmargin: isolated vs cross margin, exactly as venues model it.",
    no_args_is_help=True,
)


@app.command()
def venues(
    venue: str = typer.Argument(None, help="A bundled venue name or a venue JSON file."),
    symbol: str = typer.Option(None, help="Show this symbol's tier table."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List venues, or one venue's symbols and tiers with their source and date.

    Examples: ``perpmargin venues``, ``perpmargin venues binance-usdm --symbol BTCUSDT``.
    """
    console = _console()
    try:
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
                table.add_row(
                    v.id, v.version, v.as_of, ", ".join(v.symbols), v.rules.default_margin_mode
                )
            console.print(table)
            return
        v = load_venue(venue)
        specs = [v.symbol(symbol)] if symbol else list(v.symbols.values())
        if as_json:
            doc = venue_summary(v)
            doc["symbols"] = {s.symbol: doc["symbols"][s.symbol] for s in specs}
            print(json.dumps(doc))
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
                    f"{t.maintenance_margin_rate:%}",
                    f"{t.maintenance_amount:,}",
                    f"{t.max_leverage}x",
                )
            console.print(table)
    except PerpMarginError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None


def _fail(exc: Exception) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


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
    try:
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
    except PerpMarginError as exc:
        raise _fail(exc) from None
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
    funding_rate: str = typer.Option("0.0001", help="Funding rate per interval (+: longs pay)."),
    hold_hours: str = typer.Option("24", help="Hours the trade is held (funding cost)."),
    mark: str = typer.Option(
        None, "--mark", help="Mark price now: the cost to open adds the open loss (Binance)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Pre-trade check: size from risk, liquidation vs stop, isolated and cross side by side.

    Example: ``perpmargin check --symbol BTCUSDT --side long --entry 50000 --stop 48000
    --leverage 20 --balance 10000 --risk 1% --venue all``. Exits 1 when any check FAILs.
    """
    venues = "all" if venue == ["all"] else venue
    try:
        result = check_trade(
            symbol=symbol, side=side, entry=entry, stop=stop, leverage=leverage,
            balance=balance, risk=risk, venues=venues, take_profit=take_profit,
            buffer=buffer, funding_rate=funding_rate, hold_hours=hold_hours, mark_price=mark,
        )  # fmt: skip
    except PerpMarginError as exc:
        raise _fail(exc) from None
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
                table.add_row(v.venue, "", "", "", v.error, "", "", "[bold red]FAIL[/]")
            for m in v.modes:
                table.add_row(
                    v.venue,
                    f"{v.quantity} {v.symbol}",
                    m.margin_mode,
                    f"{m.initial_margin:,.2f}",
                    "none" if m.liquidation_price is None else f"{m.liquidation_price:,}",
                    ""
                    if m.stop_to_liquidation is None
                    else f"{m.stop_to_liquidation:,} ({m.stop_to_liquidation_pct}%)",
                    f"{m.worst_case_loss:,.2f}",
                    f"[{_STYLE[m.status]}]{m.status}[/]",
                )
        console.print(table)
        first = result.venues[0]
        for m in first.modes:
            console.print(f"[bold]{first.venue} {m.margin_mode} checklist[/]")
            for item in m.checklist:
                console.print(
                    f"  [{_STYLE[item.status]}]{item.status:4}[/] {item.name}: {item.reason}"
                )
        _print_open_loss(console, result, mark)
        if result.not_listed:
            console.print(f"Not listed there: {', '.join(result.not_listed)}")
        if result.first_to_liquidate:
            where, mode_, price = result.first_to_liquidate
            console.print(f"First to liquidate: {where} ({mode_}) at {price:,}")
    if result.status == "FAIL":
        raise typer.Exit(code=1)


def _print_open_loss(console: Console, result: Any, mark: str | None) -> None:
    """Binance's cost to open (margin + open loss at the mark), where it counts."""
    for v in result.venues:
        if v.open_loss:
            console.print(
                f"{v.venue}: cost to open {v.cost_to_open:,.2f} = margin "
                f"{v.cost_to_open - v.open_loss:,.2f} + open loss {v.open_loss:,.2f} at the "
                f"mark {mark} (fees apart)",
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
        Path | None, typer.Option("--out", help="Report folder (default ./report).")
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (no report unless --out)."),
    series: bool = typer.Option(False, "--series", help="With --json: include the series."),
    no_png: bool = typer.Option(False, "--no-png", help="Skip the PNG charts."),
) -> None:
    """Replay a plan on bars, once per margin mode, and report them side by side.

    Examples: ``perpmargin replay all``, ``perpmargin replay seed-2020-03-12``,
    ``perpmargin replay my.toml --data BTCUSDT=btc.parquet --out out/``.
    """
    from perpmargin.report import plan_result_dict, print_summary, write_report
    from perpmargin.sim.market import load_market
    from perpmargin.sim.plan import load_plans
    from perpmargin.sim.replay import replay as run_replay

    console = _console()
    try:
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
            results.append(run_replay(plan, market, progress=None if not as_json else False))
        paths = {}
        if out is not None or not as_json:
            paths = write_report(results, out or Path("report"), png=not no_png)
    except PerpMarginError as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps([plan_result_dict(r, series=series) for r in results]))
        return
    print_summary(results, console)
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
        Path | None, typer.Option("--out", help="Write a report page into this folder.")
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
    try:
        plans = load_plans(scenario)
        if not 0 <= variant < len(plans):
            raise PerpMarginError(f"--variant must be from 0 to {len(plans) - 1}")
        plan = plans[variant]
        show = not as_json and console.is_terminal
        with Progress(console=Console(stderr=True), transient=True, disable=not show) as bar:
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
    except PerpMarginError as exc:
        raise _fail(exc) from None
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
            f"{s.mean_final_equity:,.2f}",
            f"{s.loss_var99:,.2f}",
            f"{s.loss_es99:,.2f}",
            "-" if s.median_steps_to_liquidation is None else f"{s.median_steps_to_liquidation:g}",
        )
    console.print(table)
    for note in result.notes:
        console.print(f"Note: {note}.", markup=False)
    if page is not None:
        console.print(f"Report: {page.resolve()}")


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
        doc = load_ccxt_bundle(_bundle_source(source))
    for key, ref in (("balance", balance), ("leverage_tiers", tiers), ("markets", markets)):
        if ref is not None:
            doc[key] = ref
    if balance_kind is not None:
        doc["balance_kind"] = balance_kind
    return import_bundle(doc, venue=venue)


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
    save: Path = typer.Option(None, help="With --live: save the fetched bundle (no keys)."),  # noqa: B008
    export: Path = typer.Option(None, help="Write ccxt-shaped positions + balance here."),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Print ccxt positions + reconciliation."),
) -> None:
    """Import positions saved from ccxt (or fetched live), show perpmargin's numbers and
    how they compare with what the venue reported.

    Example: ``perpmargin import positions.json --venue binance-usdm --balance balance.json``.
    """
    from perpmargin.interop import balance_to_ccxt, positions_to_ccxt, reconcile

    console = _console()
    try:
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
    except PerpMarginError as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps(doc))
        return
    acct = imp.account
    table = Table(
        title=f"{imp.venue.id}: wallet {imp.wallet_balance} {imp.settle}, equity {acct.equity:.2f}"
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
            f"{v.unrealized_pnl:,.2f}",
            f"{v.margin_ratio:.4f}",
            "-" if v.liquidation_price is None else f"{v.liquidation_price:,}",
            "-" if r is None or r.reported is None else f"{r.reported:,}",
            "-" if r is None or r.ticks is None else f"{r.ticks:,.1f}",
            "" if r is None else r.status,
        )
    console.print(table)
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
    out: Path = typer.Option(Path("report"), "--out", help="Folder for stress.html / .png."),  # noqa: B008
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
    try:
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
    except PerpMarginError as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps({"grid": grid.to_dict(), "days": [d.to_dict() for d in days],
                          "notes": notes, "report": str(page)}))  # fmt: skip
        return
    table = Table(
        title=f"shock grid: {' x '.join(grid.assets)}, equity now {grid.start_equity:,.2f}"
    )
    for col in ("reading", "worst equity", "at shock", "cells with a liquidation",
                "cells wiped out", "smallest wipe-out shock"):  # fmt: skip
        table.add_column(col, justify="left" if col == "reading" else "right")
    for name, s in grid.summary().items():
        table.add_row(
            name,
            f"{s['worst_equity']:,.2f}",
            ", ".join(f"{v:+.0%}" for v in s["worst_shock"]),
            f"{s['cells_with_liquidation']:.1%}",
            f"{s['cells_wiped_out']:.1%}",
            "-" if s["smallest_wipe_out_shock"] is None else f"{s['smallest_wipe_out_shock']:.0%}",
        )
    console.print(table)
    if days:
        t2 = Table(title="historical days applied to this portfolio (exact engine)")
        for col in ("day", "reading", "final equity", "lowest equity", "liquidated", "wiped out"):
            t2.add_column(col, justify="right" if "equity" in col else "left")
        for d in days:
            for name, run in d.runs.items():
                t2.add_row(
                    d.day,
                    name,
                    f"{run.final_equity:,.2f}",
                    f"{run.min_equity:,.2f}",
                    ", ".join(leg for _, leg, _ in run.liquidations) or "no",
                    "-" if run.wiped_out_time is None else utc_text(run.wiped_out_time),
                )
        console.print(t2)
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

    Example: ``perpmargin serve`` then open http://127.0.0.1:8000/.
    """
    from perpmargin.web.server import serve as run_server

    try:
        run_server(host, port, db_path=db, allow_remote=allow_remote)
    except PerpMarginError as exc:
        raise _fail(exc) from None


@app.command()
def demo() -> None:
    """Replay every bundled scenario (real crashes), isolated vs cross, and write the report."""
    from perpmargin.demo import main as run_demo

    run_demo()


def main() -> None:
    """Console-script entry point."""
    app()
