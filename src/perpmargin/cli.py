"""Command line: ``perpmargin liq``, ``check``, ``replay``, ``venues`` and ``demo``.

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
from perpmargin.risk.liq_price import bankruptcy_price, liquidation_price
from perpmargin.risk.pretrade import check_trade
from perpmargin.venues import bundled_venues, load_venue


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
            out_symbols = {
                s.symbol: {
                    "ccxt_symbol": s.ccxt_symbol,
                    "tiers_source": s.tiers_source,
                    "tiers_as_of": s.tiers_as_of,
                    "tiers": [
                        {
                            "tier": t.tier,
                            "lower": str(t.lower),
                            "upper": None if t.upper is None else str(t.upper),
                            "maintenance_margin_rate": str(t.maintenance_margin_rate),
                            "maintenance_amount": str(t.maintenance_amount),
                            "max_leverage": str(t.max_leverage),
                        }
                        for t in s.tiers.tiers
                    ],
                }
                for s in specs
            }
            print(json.dumps({"id": v.id, "version": v.version, "symbols": out_symbols}))
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
    modes = ["isolated", "cross"] if mode == "both" else [mode]
    rows = []
    try:
        for m in modes:
            iso_from_leverage = m == "isolated" and len(modes) == 2 and leverage is not None
            kwargs: dict[str, Any] = {
                "collateral": None if iso_from_leverage else collateral,
                "leverage": leverage,
                "mark_price": mark,
                "maintenance_margin_rate": mmr,
                "max_leverage": max_leverage,
                "other_positions": [_other(o) for o in other] if m == "cross" else [],
                "position_mode": "hedge" if hedge else "one-way",
                "symbol": symbol,
            }
            rows.append(
                {
                    "venue": venue,
                    "symbol": symbol,
                    "margin_mode": m,
                    "liquidation_price": liquidation_price(venue, m, side, entry, qty, **kwargs),
                    "bankruptcy_price": bankruptcy_price(venue, m, side, entry, qty, **kwargs),
                }
            )
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
            buffer=buffer, funding_rate=funding_rate, hold_hours=hold_hours,
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
        if result.not_listed:
            console.print(f"Not listed there: {', '.join(result.not_listed)}")
        if result.first_to_liquidate:
            where, mode_, price = result.first_to_liquidate
            console.print(f"First to liquidate: {where} ({mode_}) at {price:,}")
    if result.status == "FAIL":
        raise typer.Exit(code=1)


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
    from perpmargin.sim.plan import load_plans
    from perpmargin.sim.replay import load_market
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
    backend: str = typer.Option("numba", "--backend", help="numba or dask."),
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
            f"{s.mean_final_equity:,.2f}",
            f"{s.loss_var99:,.2f}",
            f"{s.loss_es99:,.2f}",
            "-" if s.median_steps_to_liquidation is None else f"{s.median_steps_to_liquidation:g}",
        )
    console.print(table)
    if page is not None:
        console.print(f"Report: {page.resolve()}")


@app.command()
def demo() -> None:
    """Replay every bundled scenario (real crashes), isolated vs cross, and write the report."""
    from perpmargin.demo import main as run_demo

    run_demo()


def main() -> None:
    """Console-script entry point."""
    app()
