"""Build a venue's dated tier history, ``src/perpmargin/venues/data/history/<venue>.json``,
from the research extracts of a public file's git history.

Source used for Binance USDⓈ-M BTCUSDT and ETHUSDT: every version of the symbols' entries
in freqtrade's public ``freqtrade/exchange/binance_leverage_tiers.json`` (a weekly CI dump
of Binance's ``/fapi/v1/leverageBracket`` through ccxt ``fetch_leverage_tiers()``), from
its first commit (2022-02-12) to commit 2832c6b8588dbbf35d5e66e28a679fa99255ef32
(2026-03-05, PR #12898). Facts (the tier tables), attributed; no code. Only versions whose
ladder changed are kept (representation-only changes of the file are dropped). A version's
date is the UTC date of the first commit that shows it: an upper bound of when Binance
changed the table (the file was updated irregularly before 2024-03, weekly after).

Usage: python scripts/import_tier_history.py OUT.json EXTRACT.json [EXTRACT.json ...]
(an extract: ``{"symbol", "provenance", "history": [{first_seen_commit,
first_seen_commit_date, change_vs_previous, tiers_raw}, ...]}``)
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

SOURCE = (
    "freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json, every version from "
    "its first commit (2022-02-12) to 2832c6b8588dbbf35d5e66e28a679fa99255ef32 (2026-03-05, "
    "PR #12898): ccxt fetch_leverage_tiers() of Binance /fapi/v1/leverageBracket, mainnet"
)


def _text(x: object) -> str:
    d = Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x))
    return format(d.normalize(), "f")


def _rows(tiers: list[dict[str, object]]) -> list[dict[str, str | None]]:
    out = []
    for t in tiers:
        info = t["info"]
        assert isinstance(info, dict)

        def first(*keys: str, t: dict[str, object] = t) -> object:
            return next(t[k] for k in keys if k in t)  # ccxt renamed fields over the years

        cap = first("maxNotional", "notionalCap")
        out.append({
            "min_notional": _text(first("minNotional", "notionalFloor")),
            # Binance writes "no cap" as int64's maximum: the loader's uncapped last tier
            "max_notional": None if Decimal(str(cap)) >= Decimal("1e18") else _text(cap),
            "maintenance_margin_rate": _text(
                first("maintenanceMarginRate", "maintenanceMarginRatio")
            ),
            "maintenance_amount": _text(info["cum"]),
            "max_leverage": _text(t["maxLeverage"]),
        })  # fmt: skip
    return out


def convert(extracts: list[dict[str, object]]) -> dict[str, object]:
    symbols: dict[str, list[dict[str, object]]] = {}
    for ex in extracts:
        symbol = str(ex["symbol"]).replace("/", "").split(":")[0]
        history = ex["history"]
        assert isinstance(history, list)
        kept: list[dict[str, object]] = []
        for v in history:
            change = str(v["change_vs_previous"])
            if kept and not change.startswith(("ladder values changed", "unified values")):
                continue
            stamp = dt.datetime.fromisoformat(str(v["first_seen_commit_date"]))
            rows = _rows(v["tiers_raw"])
            if kept and kept[-1]["tiers"] == rows:
                continue  # cum-only changes that round to the same table
            kept.append({
                "since": stamp.astimezone(dt.UTC).date().isoformat(),
                "commit": v["first_seen_commit"],
                "tiers": rows,
            })  # fmt: skip
        symbols[symbol] = kept
    return {
        "schema": "perpmargin.tier-history/1",
        "venue": "binance-usdm",
        "source": SOURCE,
        "note": (
            "since: the UTC date of the first commit showing the table, an upper bound of "
            "when Binance changed it; a date before the first table gets the first table, "
            "said in the symbol's tiers_source"
        ),
        "symbols": symbols,
    }


def main() -> None:
    out = Path(sys.argv[1])
    extracts = [json.loads(Path(p).read_text()) for p in sys.argv[2:]]
    out.write_text(json.dumps(convert(extracts), indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
