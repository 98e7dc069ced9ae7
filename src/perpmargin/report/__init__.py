"""Reports of replays: JSON, a rich terminal table, one self-contained HTML page, PNGs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from perpmargin.report.advice import (
    frontier_figure,
    print_advice,
    write_advice_html,
    write_advice_png,
)
from perpmargin.report.common import slug
from perpmargin.report.html import plan_figure, render_html, write_html
from perpmargin.report.jsonout import jsonable, plan_result_dict
from perpmargin.report.terminal import outcome_table, print_summary

if TYPE_CHECKING:
    from perpmargin.sim.portfolio import PortfolioRun
    from perpmargin.sim.results import PlanResult

__all__ = [
    "frontier_figure",
    "jsonable",
    "outcome_table",
    "plan_figure",
    "plan_result_dict",
    "print_advice",
    "print_summary",
    "render_html",
    "write_advice_html",
    "write_advice_png",
    "write_html",
    "write_report",
]


def write_report(
    results: Sequence[PlanResult],
    out_dir: str | Path = "report",
    *,
    title: str = "perpmargin replay",
    png: bool = True,
    portfolio: Mapping[str, PortfolioRun] | None = None,
) -> dict[str, Path]:
    """Write ``index.html`` and one PNG per plan into ``out_dir`` (``portfolio``: plan
    name -> its run under portfolio margin, shown beside isolated and cross).

    Returns the paths written: ``"html"`` and each plan's slug.
    """
    out = Path(out_dir)
    paths = {"html": write_html(results, out / "index.html", title, portfolio)}
    if png:
        from perpmargin.report.png import write_png

        for r in results:
            name = slug(r.plan.name)
            paths[name] = write_png(r, out / f"{name}.png")
    return paths
