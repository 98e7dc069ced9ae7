"""The pages in a real headless Chromium, driven by Playwright.

Chromium comes from the system (Debian's ``chromium``; ``make test`` installs it when it
is missing). Without one these tests skip, unless ``PERPMARGIN_REQUIRE_BROWSER`` is set
(as CI does), where a missing browser fails them.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import perpmargin as pm
from perpmargin.sim.data import load_bars
from tests.web.browser_gate import require_browser

require_browser()


def test_calculator_fails_a_stop_beyond_liquidation(page: object) -> None:
    page.goto("/calculator")
    page.select_option("select[name=venue]", "binance-usdm")
    page.fill("input[name=symbol]", "BTCUSDT")
    page.select_option("select[name=side]", "long")
    page.fill("input[name=entry]", "50000")
    page.fill("input[name=stop]", "44000")  # 12% away, at 20x: liquidated first
    page.fill("input[name=leverage]", "20")
    page.fill("input[name=balance]", "10000")
    page.fill("input[name=risk]", "1%")
    page.click("button:has-text('Check')")
    page.wait_for_selector("[data-testid=calc-result]")
    assert page.text_content("[data-testid=status-isolated]").strip() == "FAIL"
    expected = pm.check_trade(
        symbol="BTCUSDT", side="long", entry="50000", stop="44000", leverage="20",
        balance="10000", risk="1%", venue="binance-usdm",
    )  # fmt: skip
    modes = {m.margin_mode: m for m in expected.venues[0].modes}
    shown = page.text_content("[data-testid=liq-isolated]").strip()
    assert Decimal(shown) == modes["isolated"].liquidation_price
    assert Decimal(shown) > Decimal(44000)  # above the stop: the stop can never fire
    assert page.text_content("[data-testid=quantity]").strip() == str(expected.venues[0].quantity)
    assert "comes before the stop" in page.text_content("[data-testid=mode-isolated]")
    worst = page.text_content("[data-testid=worst-cross]").strip()
    assert modes["cross"].worst_case_loss < Decimal(10000)  # no price bankrupts it
    assert worst == f"{modes['cross'].worst_case_loss:,.2f}"  # shown at USDT's cents
    assert "falls to 0" in page.text_content("[data-testid=mode-cross]")
    assert "is never reached" in page.text_content("[data-testid=mode-isolated]")


def test_calculator_shows_bad_input(page: object) -> None:
    page.goto("/calculator?entry=abc&stop=48000")
    assert "entry" in page.text_content("[data-testid=errors]")


def test_compare_a_bundled_crash_shows_both_modes(page: object) -> None:
    page.goto("/compare")
    page.check("[data-testid=source-scenario]")
    page.select_option("[data-testid=scenario]", "seed-2020-03-12:0")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result]")
    # isolated is liquidated and loses its margin; cross is not, and loses more: the
    # badge goes to the mode that ended better, the liquidation is a fact beside it
    assert page.text_content("[data-testid=status-isolated]").strip() == "liquidated"
    assert page.text_content("[data-testid=status-cross]").strip() == "not liquidated"
    assert "better" in page.text_content("[data-testid=better-isolated]")
    assert page.locator("[data-testid=better-cross]").count() == 0
    assert page.text_content("[data-testid=verdict]").startswith("isolated ended ")
    page.wait_for_function("document.querySelector('.js-plotly-plot') !== null")
    names = page.evaluate(
        "Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".flatMap(d => d.data.map(t => t.name))"
    )
    for mode in ("isolated", "cross"):
        assert f"{mode} equity" in names
        assert f"{mode} margin ratio" in names
    assert "isolated: liquidated" in names  # the marker on the price panel
    with page.expect_download() as download:
        page.click("[data-testid=download-report]")
    path = download.value.path()
    assert "seed" in Path(path).read_text(encoding="utf-8").lower()


def test_compare_counts_partial_liquidations(page: object) -> None:
    """Issue 22: the venue's partial liquidation cut 6.45 BTC and the page said
    "survived"; it now says partly liquidated, in the card and in the report table."""
    page.goto("/compare")
    page.check("[data-testid=source-scenario]")
    page.select_option("[data-testid=scenario]", "partial-2025-10-10:0")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result]")
    statuses = [page.text_content(f"[data-testid=status-{m}]") for m in ("isolated", "cross")]
    assert any("partly liquidated" in s for s in statuses), statuses
    assert "partly:" in page.text_content("[data-testid=compare-result] .report")


def test_compare_an_uploaded_csv(page: object, tmp_path: Path) -> None:
    frame = load_bars("binance-ethusdt-perp-15m-2020-03-12.csv").frame
    csv = tmp_path / "eth.csv"
    frame.to_csv(csv, index=False)
    page.goto("/compare")
    page.check("[data-testid=source-custom]")
    page.fill("input[name=symbol]", "ETHUSDT")
    page.fill("input[name=leverage]", "5")
    page.set_input_files("[data-testid=upload]", str(csv))
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result]")
    assert "ETHUSDT" in page.text_content("[data-testid=compare-result] section h2")


def test_odds_job_reports_progress_then_the_odds(page: object) -> None:
    page.goto("/odds")
    page.check("[data-testid=source-scenario]")
    page.select_option("[data-testid=scenario]", "seed-2020-03-12:0")
    page.fill("input[name=paths]", "2000")
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=progress]")
    page.wait_for_selector("[data-testid=odds-table]")
    p_iso = float(page.text_content("[data-testid=p-isolated]"))
    p_cross = float(page.text_content("[data-testid=p-cross]"))
    assert 0 <= p_cross <= p_iso <= 1  # cross backs the position with the whole wallet
    assert page.evaluate("document.getElementById('progress').value") == 2000
    page.wait_for_selector("[data-testid=odds-chart] .main-svg")


def test_odds_of_a_custom_plan_honour_its_stop(page: object) -> None:
    """Issue 22: the Odds page's Stop field reaches the simulation, and the page shows
    how often the stop closed the position and says how stops are filled."""
    page.goto("/odds")
    page.check("[data-testid=source-custom]")
    page.fill("input[name=symbol]", "ETHUSDT")
    page.select_option("select[name=data]", "binance-ethusdt-perp-15m-2022-11-08.csv")
    page.fill("input[name=leverage]", "15")
    page.fill("input[name=margin]", "500")
    page.fill("input[name=stop]", "1300")
    page.fill("input[name=paths]", "2000")
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=odds-table]")
    assert float(page.text_content("[data-testid=exit-cross]")) > 0
    notes = " ".join(page.locator("[data-testid=odds-note]").all_text_contents())
    assert "stops and take-profits close at their own price" in notes


def _fill_custom_eth(page: Any, leverage: str) -> None:
    page.check("[data-testid=source-custom]")
    page.select_option("select[name=venue]", "okx-swap")
    page.fill("input[name=symbol]", "ETH-USDT-SWAP")
    page.select_option("select[name=side]", "short")
    page.select_option("select[name=data]", "binance-ethusdt-perp-15m-2022-11-08.csv")
    page.fill("input[name=leverage]", leverage)
    page.fill("input[name=margin]", "700")
    page.fill("input[name=stop]", "1700")


def _assert_custom_eth_kept(page: Any, leverage: str) -> None:
    assert page.is_checked("[data-testid=source-custom]")
    assert page.input_value("select[name=venue]") == "okx-swap"
    assert page.input_value("input[name=symbol]") == "ETH-USDT-SWAP"
    assert page.input_value("select[name=side]") == "short"
    assert page.input_value("select[name=data]") == "binance-ethusdt-perp-15m-2022-11-08.csv"
    assert page.input_value("input[name=leverage]") == leverage
    assert page.input_value("input[name=margin]") == "700"
    assert page.input_value("input[name=stop]") == "1700"


def test_compare_keeps_the_form_after_an_error_and_after_a_run(page: object) -> None:
    """Issue 22: the form came back with its defaults after a run or an error."""
    page.goto("/compare")
    _fill_custom_eth(page, "ten")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=errors]")
    assert "leverage" in page.text_content("[data-testid=errors]")
    _assert_custom_eth_kept(page, "ten")
    page.fill("input[name=leverage]", "5")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result]")
    _assert_custom_eth_kept(page, "5")


def test_compare_keeps_the_scenario_picked(page: object) -> None:
    page.goto("/compare")
    page.select_option("[data-testid=scenario]", "partial-2025-10-10:0")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result]")
    assert page.is_checked("[data-testid=source-scenario]")
    assert page.input_value("[data-testid=scenario]") == "partial-2025-10-10:0"


def test_odds_keeps_the_form_on_the_job_page_and_after_an_error(page: object) -> None:
    page.goto("/odds")
    _fill_custom_eth(page, "3")
    page.fill("input[name=paths]", "-5")
    page.select_option("select[name=model]", "jump")
    page.fill("input[name=seed]", "42")
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=errors]")
    _assert_custom_eth_kept(page, "3")
    assert page.input_value("input[name=paths]") == "-5"
    assert page.input_value("select[name=model]") == "jump"
    assert page.input_value("input[name=seed]") == "42"
    page.fill("input[name=paths]", "1500")
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=odds-table]")
    _assert_custom_eth_kept(page, "3")
    assert page.input_value("input[name=paths]") == "1500"
    assert page.input_value("select[name=model]") == "jump"


def test_odds_says_when_the_server_is_gone(page: object) -> None:
    """Issue 22: the page froze on its last progress line when the server stopped."""
    page.goto("/odds")
    page.fill("input[name=paths]", "2000")
    page.route("**/api/v1/jobs/**", lambda route: route.abort("connectionrefused"))
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=server-gone]", timeout=20_000)
    assert "stopped answering" in page.text_content("[data-testid=server-gone]")
    assert page.get_attribute("#progress-text", "data-state") == "lost"


def test_venues_page_cites_its_sources(page: object) -> None:
    page.goto("/venues?venue=okx-swap")
    spec = pm.load_venue("okx-swap").symbol("BTC-USDT-SWAP")
    text = page.text_content("[data-testid=venue-okx-swap]")
    assert spec.tiers_source in text
    assert spec.tiers_as_of in text


def test_saved_lists_and_reopens(page: object) -> None:
    page.goto("/calculator?entry=50000&stop=49000&leverage=10&balance=5000")
    page.fill("input[name=name]", "my saved check")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/saved")
    page.click("a:has-text('my saved check')")
    page.wait_for_selector("[data-testid=calc-result]")
    assert page.input_value("input[name=stop]") == "49000"


def test_delete_asks_first(page: object) -> None:
    page.goto("/calculator?entry=50000&stop=49000&leverage=10&balance=5000")
    page.fill("input[name=name]", "check to delete")
    page.click("button:has-text('Save')")
    page.wait_for_url("**/saved")
    row = page.locator("tr", has_text="check to delete")
    asked: list[str] = []

    def answer(accept: bool) -> Any:
        def on_dialog(dialog: Any) -> None:
            asked.append(dialog.message)
            if accept:
                dialog.accept()
            else:
                dialog.dismiss()

        return on_dialog

    page.once("dialog", answer(False))
    row.locator("button:has-text('delete')").click()
    assert len(asked) == 1
    assert "check to delete" in asked[0]
    page.goto("/saved")
    assert row.count() == 1  # declined: still there
    page.once("dialog", answer(True))
    with page.expect_navigation():
        row.locator("button:has-text('delete')").click()
    assert row.count() == 0


def test_api_docs_work_with_no_network(page: object, base_url: str) -> None:
    outside: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "perpmargin" in page.text_content(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path:has-text('/api/v1/liq')")  # operations
    assert outside == []
