"""Screenshots of every page of the web app for the README (docs/img/web-*.png).

Runs the app on a temporary database, drives the system's Chromium with Playwright
through the same steps a user would take, and saves one PNG per page.
Usage: ``make screenshots`` (or ``python scripts/screenshots.py [OUT_DIR]``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from perpmargin.web import create_app
from perpmargin.web.local import CHROMIUM_ARGS, find_chromium, running


def calculator(page: Page, out: Path) -> None:
    page.goto(
        "/calculator?venue=binance-usdm&symbol=BTCUSDT&side=long&entry=50000&stop=46500"
        "&risk=1%25&leverage=20&balance=10000&o_symbol=ETHUSDT&o_side=short&o_qty=5"
        "&o_entry=3000&o_mark=3150"
    )
    page.wait_for_selector("[data-testid=calc-result]")
    page.screenshot(path=out / "web-calculator.png", full_page=True)


def compare(page: Page, out: Path) -> None:
    page.goto("/compare")
    page.select_option("[data-testid=scenario]", "seed-2020-03-12:0")
    page.click("[data-testid=run-compare]")
    page.wait_for_selector("[data-testid=compare-result] .js-plotly-plot .main-svg")
    page.locator("[data-testid=compare-result]").screenshot(path=out / "web-compare.png")


def odds(page: Page, out: Path) -> None:
    page.goto("/odds")
    page.select_option("[data-testid=scenario]", "pair-2022-11-08:0")
    page.fill("input[name=paths]", "200000")
    page.click("[data-testid=run-odds]")
    page.wait_for_selector("[data-testid=odds-chart] .main-svg", timeout=120_000)
    page.screenshot(path=out / "web-odds.png", full_page=True)


def advise(page: Page, out: Path) -> None:
    page.goto("/advise")
    page.select_option("[data-testid=scenario]", "pair-2022-11-08:0")
    page.fill("input[name=paths]", "20000")
    page.click("[data-testid=run-advise]")
    page.wait_for_selector("[data-testid=advise-chart] .main-svg", timeout=180_000)
    page.screenshot(path=out / "web-advise.png", full_page=True)


def venues(page: Page, out: Path) -> None:
    page.goto("/venues?venue=binance-usdm")
    page.screenshot(path=out / "web-venues.png")


def saved(page: Page, out: Path) -> None:
    page.goto("/saved")
    page.screenshot(path=out / "web-saved.png")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img")
    out.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    if chromium is None:
        sys.exit("no Chromium: install Debian's chromium (make browser)")
    db = Path(tempfile.mkdtemp(prefix="perpmargin-shots-")) / "shots.db"
    with running(create_app(db)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        page = browser.new_page(base_url=url, viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        steps = (calculator, compare, odds, advise, venues, saved)
        only = set(sys.argv[2:])  # e.g. scripts/screenshots.py docs/img advise
        for step in (s for s in steps if not only or s.__name__ in only):
            step(page, out)
            print(f"{step.__name__}: done")
        browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
