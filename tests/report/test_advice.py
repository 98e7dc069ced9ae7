"""The mode advisor's report: the terminal table, the HTML page, the frontier, the PNG."""

from __future__ import annotations

import dataclasses
import re

import pytest
from rich.console import Console

import perpmargin as pm
from perpmargin.display import money, places_for
from perpmargin.report import frontier_figure, print_advice, write_advice_html, write_advice_png
from perpmargin.sim.advisor import Advice

PLAN = "pair-2022-11-08"


@pytest.fixture(scope="module")
def advice() -> Advice:
    return pm.advise(pm.load_plans(PLAN)[0], paths=1000, steps=48, seed=3)


def _printed(advice: Advice, *, markup: bool = False) -> str:
    console = Console(record=True, width=400, markup=markup, color_system=None)
    print_advice(advice, console)
    return console.export_text()


def _table(text: str) -> list[list[str]]:
    """The table's rows as cells, a cell's lines joined by a space."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if not cells:
            continue
        if cells[0].isdigit():
            rows.append(cells)
        elif rows and not cells[0]:  # the row goes on
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return rows


def _row(text: str, name: str) -> list[str]:
    """The one table row of the setting ``name``."""
    rows = [r for r in _table(text) if r[1] == name]
    assert len(rows) == 1, (name, rows)
    return rows[0]


def test_the_table_shows_the_recommendation_with_its_numbers(advice: Advice) -> None:
    d = advice.to_dict()
    best = d["best"]
    places = places_for(d["settle"])
    cells = _row(_printed(advice), best["name"])
    assert cells[0] == "1"
    assert "recommended" in cells[2]
    lo, hi = best["ruin_ci"]
    assert cells[3] == (
        f"{100 * best['ruin_probability']:.2f} % ({100 * lo:.2f} % to {100 * hi:.2f} %)"
    )
    assert cells[4] == f"{100 * best['liquidation_probability']:.2f} %"
    assert cells[5] == money(best["cvar95"], places)
    assert cells[6] == money(best["mean_final_equity"], places)
    assert cells[7] == f"{best['log_growth']:+.4f}"


def test_every_baseline_has_its_row_rank_and_mark(advice: Advice) -> None:
    text = _printed(advice)
    names = [s.name for s in advice.ranked]
    for role, s in (
        ("your setting", advice.current),
        ("all isolated", advice.all_isolated),
        ("all cross", advice.all_cross),
    ):
        assert s is not None
        cells = _row(text, s.name)
        assert cells[0] == str(names.index(s.name) + 1)
        assert role in cells[2]
    # the best eight, then the baselines ranked below them, each once, in rank order
    baselines = {s.name for s in (advice.current, advice.all_isolated, advice.all_cross) if s}
    shown = [r[1] for r in _table(text)]
    assert shown == [n for k, n in enumerate(names) if k < 8 or n in baselines]


def test_explanation_confirmation_and_notes_follow_the_table(advice: Advice) -> None:
    text = _printed(advice)
    flat = " ".join(text.split())
    for line in advice.explanation:
        assert " ".join(line.split()) in flat
    checks = [c for c in advice.to_dict()["confirmations"] if c["agrees"] is not None]
    agree = sum(1 for c in checks if c["agrees"])
    assert checks
    assert f"exact engine: {agree} of {len(checks)} simulated-path checks agree" in text
    assert "DISAGREES" not in text
    own = [c for c in advice.confirmations if c.path == "the plan's own bars"]
    places = places_for(advice.settle)
    for c in own:
        word = (
            f"liquidated at {c.exact_first_liquidation} UTC"
            if c.exact_liquidated
            else ("not liquidated")
        )
        assert f"({c.setting}): {word}, final equity {money(c.exact_final, places)}" in flat
    assert "Note: funding is not simulated." in text


def test_a_disagreement_is_said_plainly(advice: Advice) -> None:
    checks = list(advice.confirmations)
    k = next(i for i, c in enumerate(checks) if c.agrees is not None)
    bad = dataclasses.replace(
        checks[k], agrees=False, exact_liquidated=not checks[k].fast_liquidated
    )
    checks[k] = bad
    text = _printed(dataclasses.replace(advice, confirmations=tuple(checks)))
    total = sum(1 for c in checks if c.agrees is not None)
    assert f"exact engine: {total - 1} of {total} simulated-path checks agree" in text
    line = next(line for line in text.splitlines() if line.startswith("DISAGREES"))
    assert f"on {bad.path}, {bad.setting}:" in line
    fast = "fast path liquidated" if bad.fast_liquidated else "fast path not liquidated"
    exact = "exact engine liquidated" if bad.exact_liquidated else "exact engine not liquidated"
    assert fast in line
    assert exact in line


def test_markup_in_the_plan_name_is_printed_as_typed(advice: Advice, tmp_path) -> None:
    name = "[bold]mine[/bold] [/foo] <script>alert(1)</script> $5"
    odd = dataclasses.replace(advice, plan=name)
    for markup in (True, False):
        assert name in _printed(odd, markup=markup)
    page = write_advice_html(odd, tmp_path / "a.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert write_advice_png(odd, tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_settings_outside_the_search_are_named(tmp_path) -> None:
    advice = pm.advise(
        pm.load_plans(PLAN)[0],
        paths=400,
        steps=48,
        allowed={"BTCUSDT": ["isolated"]},
        current=["cross", "cross"],
        confirm_paths=1,
    )
    assert advice.current is None
    assert advice.all_cross is None
    text = _printed(advice)
    assert "your setting, all cross." in text
    roles = [r[2] for r in _table(text)]
    assert "recommended" in roles[0]
    assert not any("your setting" in r or "all cross" in r for r in roles)
    assert any("all isolated" in r for r in roles)


def test_html_is_self_contained_and_holds_the_frontier(advice: Advice, tmp_path) -> None:
    page = write_advice_html(advice, tmp_path / "sub" / "advice.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]+src=", page)
    assert page.count("plotly.js v") >= 1  # inlined
    # outside the inlined plotly.js (which names tile servers it never loads here): no CDN
    scripts = re.findall(r"<script[^>]*>.*?</script>", page, flags=re.S)
    bundle = max(scripts, key=len)
    assert "cdn" not in page.replace(bundle, "").lower()
    for s in advice.ranked:
        assert s.name in page
    assert advice.best.name in page
    assert "exact engine:" in page
    assert "Note: funding is not simulated." in page


def test_the_frontier_has_every_setting_and_the_marks(advice: Advice) -> None:
    d = advice.to_dict()
    fig = frontier_figure(advice)
    points = fig.data[0]
    assert len(points.x) == d["settings_count"] == len(d["frontier"])
    assert list(points.x) == pytest.approx([100 * f["ruin_probability"] for f in d["frontier"]])
    assert list(points.y) == pytest.approx([100 * f["expected_return"] for f in d["frontier"]])
    assert list(points.customdata) == [f["name"] for f in d["frontier"]]
    marks = {t.name: t for t in fig.data[1:]}
    assert set(marks) == {"recommended", "your setting", "all isolated", "all cross"}
    assert marks["recommended"].x[0] == pytest.approx(100 * d["best"]["ruin_probability"])
    assert marks["all cross"].y[0] == pytest.approx(100 * d["all_cross"]["expected_return"])
    symbols = {t.marker.symbol for t in marks.values()}
    assert len(symbols) == 4


def test_png_is_written(advice: Advice, tmp_path) -> None:
    out = write_advice_png(advice, tmp_path / "deep" / "frontier.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000


def test_growth_with_no_setting_within_the_limit_says_so() -> None:
    advice = pm.advise(
        pm.load_plans(PLAN)[0],
        paths=400,
        steps=48,
        objective="growth",
        beta=0.0,
        ruin_fraction=0.999,
        confirm_paths=0,
    )
    assert all(s.ruin_probability > 0 for s in advice.ranked)
    text = _printed(advice)
    assert "Note: No setting has P(ruin) <= 0.00 %: the least ruinous one is recommended." in text
    assert "exact engine: no simulated path was checked" in text
