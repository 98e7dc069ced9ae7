"""Command line: ``perpmargin venues`` and ``perpmargin demo``.

The liquidation-price calculator (``liq``), the pre-trade check (``check``) and the replay
come with their own issues; this module stays a thin layer over the public API.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from perpmargin.errors import PerpMarginError
from perpmargin.venues import bundled_venues, load_venue

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
    console = Console()
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


@app.command()
def demo() -> None:
    """Run the worked example on the bundled 2020-03-12 crash, isolated vs cross."""
    from perpmargin.demo import main as run_demo

    run_demo()


def main() -> None:
    """Console-script entry point."""
    app()
