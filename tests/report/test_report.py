"""The report: one self-contained HTML page with both modes' series, PNGs, JSON, table."""

import json
import re
from decimal import Decimal as D

import pytest
from rich.console import Console

from perpmargin.report import plan_figure, plan_result_dict, print_summary, write_report
from perpmargin.sim.plan import load_plans
from perpmargin.sim.replay import replay


@pytest.fixture(scope="module")
def results():
    return [replay(p) for p in load_plans("pair-2025-10-10")]


def test_html_is_self_contained_and_has_both_modes(results, tmp_path):
    paths = write_report(results, tmp_path / "out")
    page = paths["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js is inlined, no network
    assert page.count("plotly.js v") >= 1
    for plan in results:
        assert plan.plan.name in page
    for mode in ("isolated", "cross"):
        assert f"{mode} equity" in page
        assert f"{mode} margin ratio" in page
        assert f"{mode}: liquidated" in page
    assert "trade (last-price) bars stand in" in page
    pngs = [p for k, p in paths.items() if k != "html"]
    assert len(pngs) == len(results)
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figure_series_match_the_runs(results):
    r = results[0]
    fig = plan_figure(r)
    by_name = {t.name: t for t in fig.data}
    for mode, run in r.runs.items():
        y = list(by_name[f"{mode} equity"].y)
        assert len(y) == len(r.market)
        assert y == pytest.approx(list(run.series["equity"]))
    assert len(fig.layout.annotations) >= 4  # two price panels, equity, margin ratio


def test_json_summary_round_trips(results):
    out = json.loads(json.dumps(plan_result_dict(results[0], series=True)))
    cross = out["modes"]["cross"]
    assert D(cross["final_equity"]) == results[0].runs["cross"].outcome.final_equity
    assert len(cross["series"]["equity"]) == len(results[0].market)
    assert out["mark_source"] == {"BTCUSDT": "trade bars", "ETHUSDT": "trade bars"}
    assert out["positions"][0]["quantity"] == str(results[0].quantities[0])


def test_terminal_table(results):
    console = Console(width=220, record=True)
    print_summary(results, console)
    text = console.export_text()
    assert "isolated" in text
    assert "cross" in text
    assert "BTCUSDT long 10-10 19:15" in text


def test_stress_page_is_self_contained_with_every_reading(tmp_path):
    from pathlib import Path

    from perpmargin import interop
    from perpmargin.report.stress import write_stress_html, write_stress_png
    from perpmargin.sim.stress import historical_stress, stress_grid

    bundle = Path(__file__).parents[1] / "interop" / "fixtures" / "binance-bundle.json"
    acct = interop.import_bundle(str(bundle)).account
    grid = stress_grid(acct, shocks=[-0.5, 0.0, 0.5])
    day = historical_stress(acct, "2022-11-08")
    page = write_stress_html(grid, tmp_path / "s.html", "t", days=[day], notes=["n1"]).read_text()
    assert "<script src=" not in page  # plotly inlined: opens offline
    for name in ("current", "all isolated", "all cross", "all cross - all isolated", "n1",
                 "2022-11-08"):  # fmt: skip
        assert name in page
    png = write_stress_png(grid, tmp_path / "s.png", days=[day])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_chart_shows_partial_liquidations_and_the_insurance_fund():
    venue_plan, full_plan = load_plans("partial-2025-10-10")
    names = {t.name for t in plan_figure(replay(venue_plan)).data}
    assert "isolated: partly liquidated" in names
    names = {t.name for t in plan_figure(replay(full_plan)).data}
    assert "isolated: liquidated" in names
    assert "isolated: insurance fund balance" in names
