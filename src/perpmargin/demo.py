"""``make demo``: every bundled scenario replayed on real crashes, isolated vs cross.

Runs the scenario files shipped in ``perpmargin/scenarios`` (the seed example on
2020-03-12, long BTC + short ETH on 2022-11-08 and 2025-10-10, a stop placed beyond
the isolated liquidation price and its two fixes on 2024-08-05, funding across
2021-05-19) through the exact engine, prints the side-by-side table, and writes
``report/index.html`` (self-contained, plotly) and one PNG per plan.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from perpmargin.report import print_summary, write_report
from perpmargin.sim.plan import bundled_scenarios, load_plans
from perpmargin.sim.portfolio import PortfolioRun, replay_portfolio
from perpmargin.sim.replay import replay
from perpmargin.sim.results import PlanResult

__all__ = ["main", "run_bundled", "story_order"]

TITLE = "perpmargin: isolated vs cross on real crashes (Binance USDⓈ-M bars, $10,000 accounts)"


STORY = [
    "seed-2020-03-12",
    "pair-2022-11-08",
    "pair-2025-10-10",
    "stop-before-liquidation-2024-08-05",
    "funding-2021-05-19",
]


def story_order() -> list[str]:
    """Every bundled scenario, the story's first, then any others by name."""
    available = bundled_scenarios()
    return [n for n in STORY if n in available] + [n for n in available if n not in STORY]


def run_bundled(names: list[str] | None = None) -> list[PlanResult]:
    """Replay the bundled scenarios (all of them by default, in the story's order),
    every variant included."""
    if names is None:
        names = story_order()
    results: list[PlanResult] = []
    for name in names:
        results.extend(replay(plan) for plan in load_plans(name))
    return results


def main(out_dir: str | Path = "report", advise_paths: int = 20_000) -> None:
    """Print the table for the bundled scenarios and write the report; then stress the
    example portfolio and ask the mode advisor about the 2022-11-08 pair
    (``advise_paths`` simulated paths)."""
    probe = Console()
    console = probe if probe.is_terminal else Console(width=200)
    results = run_bundled()
    print_summary(results, console, title=TITLE)
    third = portfolio_example(results, console)
    paths = write_report(results, out_dir, title=TITLE, portfolio={third[0]: third[1]})
    console.print(
        "Isolated caps a loss at the position's margin; cross survives deeper moves by "
        "drawing on the whole balance, and when it goes it takes every cross position.\n"
        "Prices are last-trade bars (no mark-price series is bundled), walked open, adverse "
        "extreme, favourable extreme, close. Data: Binance USDⓈ-M archive "
        "(perpmargin/data/market/SOURCES.md)."
    )
    html = escape(str(paths["html"].resolve()))  # a folder may be named "[/x]"
    console.print(f"Report: [bold]{html}[/bold] (+ {len(paths) - 1} PNG charts)")
    stress_page = stress_example(out_dir, console)
    console.print(f"Stress: [bold]{escape(str(stress_page.resolve()))}[/bold] (+ stress.png)")
    advice_page = advise_example(out_dir, console, advise_paths)
    console.print(f"Advice: [bold]{escape(str(advice_page.resolve()))}[/bold] (+ advice.png)")


ADVISED = "pair-2022-11-08"
PORTFOLIO = "Seed: BTC long 10x, $5,000 margin (half the account), 2020-03-12"


def portfolio_example(results: list[PlanResult], console: Console) -> tuple[str, PortfolioRun]:
    """The third mode: the seed's half-account long under Binance Portfolio Margin, its
    balance held in BTC (collateral and position fall together), beside isolated and
    cross."""
    from perpmargin.report.terminal import print_three_modes

    result = next(r for r in results if r.plan.name == PORTFOLIO)
    run = replay_portfolio(result.plan, "binance-pm", collateral="BTC", market=result.market)
    print_three_modes(console, result, run)
    return result.plan.name, run


def advise_example(out_dir: str | Path, console: Console, paths: int) -> Path:
    """The mode advisor on the bundled BTC long + ETH short pair of 2022-11-08: every
    setting on the same paths, the recommendation, its checks in the exact engine."""
    from perpmargin.report.advice import print_advice, write_advice_html, write_advice_png
    from perpmargin.sim.advisor import advise

    advice = advise(load_plans(ADVISED)[0], paths=paths, seed=0)
    print_advice(advice, console, top=5)
    out = Path(out_dir)
    write_advice_png(advice, out / "advice.png")
    return write_advice_html(advice, out / "advice.html")


def stress_example(out_dir: str | Path, console: Console) -> Path:
    """The bundled example portfolio (Binance, cross, long BTC + short ETH) stressed on a
    shock grid and on every bundled crash day, under its modes, all isolated, all cross."""
    from importlib import resources

    from perpmargin.interop import import_bundle
    from perpmargin.report.stress import write_stress_html, write_stress_png
    from perpmargin.sim.stress import historical_days, historical_stress, stress_grid

    example = resources.files("perpmargin") / "examples" / "binance-cross-pair.json"
    imported = import_bundle(str(example))
    grid = stress_grid(imported.account)
    days = [historical_stress(imported.account, d) for d in historical_days()]
    out = Path(out_dir)
    notes = list(dict.fromkeys([*grid.notes, *(n for d in days for n in d.notes)]))
    page = write_stress_html(
        grid, out / "stress.html", "Stress: example portfolio (binance-cross-pair)",
        days=days, notes=notes,
    )  # fmt: skip
    write_stress_png(grid, out / "stress.png", days=days)
    for name, s in grid.summary().items():
        console.print(
            f"  {name:13s} worst equity {s['worst_equity']:>10,.2f}   cells wiped out "
            f"{s['cells_wiped_out']:6.1%}"
        )
    return page


if __name__ == "__main__":
    main()
