"""The Advisor page in a real headless Chromium, driven by Playwright.

Chromium comes from the system, as in ``test_browser.py``: without one these tests skip,
unless ``PERPMARGIN_REQUIRE_BROWSER`` is set (as CI does), where a missing browser fails
them.
"""

from __future__ import annotations

import re
from typing import Any

from perpmargin.sim.advisor import advise
from perpmargin.sim.plan import load_plans
from perpmargin.web.service import advice_dict
from tests.web.browser_gate import require_browser

require_browser()

PAIR = "pair-2022-11-08"


def _run_pair(page: Any, paths: str = "600", steps: str = "48") -> None:
    page.goto("/advise")
    page.check("[data-testid=source-scenario]")
    page.select_option("[data-testid=scenario]", f"{PAIR}:0")
    page.fill("input[name=paths]", paths)
    page.fill("input[name=steps]", steps)
    page.fill("input[name=confirm_paths]", "2")


def test_advisor_recommends_with_its_table_chart_and_checks(page: Any) -> None:
    _run_pair(page)
    page.click("[data-testid=run-advise]")
    page.wait_for_selector("[data-testid=progress]")
    page.wait_for_selector("[data-testid=advise-table]")
    assert page.evaluate("document.getElementById('progress').value") == 600
    assert page.get_attribute("#progress-text", "data-state") == "done"
    best = page.locator("[data-testid=advise-table] tr[data-marks~=best]")
    assert best.count() == 1
    assert "recommended" in best.text_content()
    recommended = page.text_content("[data-testid=advise-best]")
    name = recommended.replace("Recommended:", "").strip()
    assert name in best.text_content()
    assert page.locator("tr[data-marks~=all_cross]").count() == 1
    assert page.locator("tr[data-marks~=current]").count() == 1
    # money at USDT's cents: CVaR and mean final equity with 2 decimals
    cells = best.locator("td").all_text_contents()
    assert re.fullmatch(r"[\d,]+\.\d\d", cells[5]), cells
    assert re.fullmatch(r"[\d,]+\.\d\d", cells[6]), cells
    lines = page.locator("[data-testid=advise-explanation] li").all_text_contents()
    assert lines[0].startswith(f"Recommended: {name}.")
    confirmation = page.text_content("[data-testid=advise-confirmation]")
    assert re.search(r"(\d+) of \1 simulated-path checks agree", confirmation), confirmation
    own = page.text_content("[data-testid=advise-own-bars]")
    assert "final equity" in own
    notes = page.locator("[data-testid=advise-note]").all_text_contents()
    assert notes
    assert all(n.startswith("Note:") for n in notes)
    page.wait_for_selector("[data-testid=advise-chart] .main-svg")
    traces = page.evaluate("document.getElementById('advise-chart').data.map(t => t.name)")
    assert traces[0].startswith("every setting")
    labels = " ".join(traces[1:])
    for label in ("recommended", "your setting", "all isolated", "all cross"):
        assert label in labels
    assert "Saved as" in page.text_content("#advise-out")


def test_advisor_keeps_the_form_after_an_error_and_on_the_job_page(page: Any) -> None:
    _run_pair(page, paths="500")
    page.select_option("[data-testid=objective]", "cvar")
    page.fill("input[name=grid]", "0.5, 2")
    page.fill("input[name=beta]", "0.2")
    page.click("[data-testid=run-advise]")
    page.wait_for_selector("[data-testid=errors]")
    assert "grid" in page.text_content("[data-testid=errors]")
    assert page.input_value("[data-testid=scenario]") == f"{PAIR}:0"
    assert page.input_value("[data-testid=objective]") == "cvar"
    assert page.input_value("input[name=grid]") == "0.5, 2"
    assert page.input_value("input[name=paths]") == "500"
    assert page.input_value("input[name=beta]") == "0.2"
    page.fill("input[name=grid]", "1, 2")
    page.click("[data-testid=run-advise]")
    page.wait_for_selector("[data-testid=advise-table]")
    assert page.input_value("[data-testid=objective]") == "cvar"
    assert page.input_value("input[name=grid]") == "1, 2"
    assert page.input_value("input[name=steps]") == "48"
    # the saved run reopens with its recommendation drawn again
    page.click("#advise-out a[href^='/saved/']")
    page.wait_for_selector("[data-testid=advise-saved] [data-testid=advise-table]")
    page.wait_for_selector("[data-testid=advise-chart] .main-svg")
    assert page.input_value("input[name=grid]") == "1, 2"


def test_advisor_says_when_the_server_is_gone(page: Any) -> None:
    _run_pair(page)
    page.route("**/api/v1/jobs/**", lambda route: route.abort("connectionrefused"))
    page.click("[data-testid=run-advise]")
    page.wait_for_selector("[data-testid=server-gone]", timeout=20_000)
    assert "stopped answering" in page.text_content("[data-testid=server-gone]")
    assert page.get_attribute("#progress-text", "data-state") == "lost"


HOSTILE = '<img src=x onerror="window.pwned=1">'


def test_advisor_escapes_text_and_shows_coin_money_to_8_places(page: Any) -> None:
    """Every name and line is shown as text, never as markup; a coin-settled plan's money
    keeps the ledger's 8 decimals."""
    plan = load_plans(PAIR)[0]
    result = advice_dict(advise(plan, paths=200, steps=12, confirm_paths=1), HOSTILE)
    result["settle"] = "BTC"
    result["notes"] = [HOSTILE]
    result["explanation"] = [HOSTILE]
    for key in ("best", "current", "all_isolated", "all_cross"):
        if result[key] is not None:
            result[key]["name"] = HOSTILE + key
    for s in (*result["ranked"], *result["frontier"]):
        s["name"] = HOSTILE + s["name"]
    for c in result["confirmations"]:
        c["setting"] = HOSTILE
    page.goto("/advise")
    page.evaluate(
        "r => { const d = document.createElement('div'); d.id = 'advise-out';"
        " document.querySelector('main').append(d); renderAdvice(r, d); }",
        result,
    )
    page.wait_for_selector("[data-testid=advise-chart] .main-svg")
    assert page.locator("#advise-out img").count() == 0
    assert page.evaluate("window.pwned === undefined")
    assert HOSTILE in page.text_content("#advise-out")
    assert HOSTILE in page.text_content("[data-testid=advise-note]")
    cells = page.locator("[data-testid=advise-table] tr").nth(1).locator("td")
    assert re.fullmatch(r"[\d,]+\.\d{8}", cells.nth(6).text_content()), cells.all_text_contents()
