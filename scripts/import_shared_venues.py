"""Convert the research tables in ``shared/data/venues`` into perpmargin venue files.

Maintenance tool, run by hand when the shared research files change; its output
(``src/perpmargin/venues/data/*.json``) is what the package ships and loads. Every
number keeps the source and date it had in the research file. Facts that the research
files do not hold (tick/step sizes, switching rules) are written here with their
source, or marked ``unverified`` when no stored source was read.

Usage: python scripts/import_shared_venues.py ../shared/data/venues
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "perpmargin" / "venues" / "data"


def dec(x: object) -> str:
    """Format a JSON number as a plain decimal string (no float noise)."""
    d = Decimal(str(x)).normalize()
    text = format(d, "f")
    return text


def tiers_from_ccxt(rows: list[dict], *, derive_amount: bool = False) -> list[dict]:
    out: list[dict] = []
    prev: dict | None = None
    for row in rows:
        mmr = Decimal(dec(row["maintenanceMarginRate"]))
        lo = Decimal(dec(row["minNotional"])) if row.get("minNotional") is not None else None
        if lo is None and prev is not None:
            lo = Decimal(prev["max_notional"])
        if "maintenanceAmount" in row and not derive_amount:
            amount = Decimal(dec(row["maintenanceAmount"]))
        else:
            amount = (
                Decimal("0")
                if prev is None
                else Decimal(prev["maintenance_amount"])
                + lo * (mmr - Decimal(prev["maintenance_margin_rate"]))
            )
        tier = {
            "tier": row["tier"],
            "min_notional": dec(lo),
            "max_notional": None if row["maxNotional"] is None else dec(row["maxNotional"]),
            "maintenance_margin_rate": dec(mmr),
            "maintenance_amount": dec(amount),
            "max_leverage": dec(row["maxLeverage"]),
        }
        if "initialMarginRate" in row:
            tier["initial_margin_rate"] = dec(row["initialMarginRate"])
        out.append(tier)
        prev = tier
    return out


def okx_tiers(rows: list[dict], ct_val: str) -> list[dict]:
    """OKX tiers are sized in contracts; convert the bounds to base quantity (x ctVal).

    The source's tier n starts at the previous maxSz + one lot; tier n covers
    (previous maxSz, maxSz], so the lower bound is set to the previous upper bound.
    """
    out: list[dict] = []
    prev_max = Decimal("0")
    for row in rows:
        hi = Decimal(dec(row["maxNotional"])) * Decimal(ct_val)
        out.append(
            {
                "tier": row["tier"],
                "min_quantity": dec(prev_max),
                "max_quantity": dec(hi),
                "maintenance_margin_rate": dec(row["maintenanceMarginRate"]),
                "maintenance_amount": "0",
                "max_leverage": dec(row["maxLeverage"]),
                "initial_margin_rate": dec(row["initialMarginRate"]),
            }
        )
        prev_max = hi
    return out


DEFAULT_LEVERAGE_SOURCE = (
    "Binance USDⓈ-M opens new symbols at 20x (web UI default); used for every venue as an "
    "assumption where no venue default was read. Capped at the first tier's maximum."
)


def write(name: str, doc: dict) -> None:
    doc["rules"]["default_leverage"] = "20"
    doc["rules"]["sources"]["default_leverage"] = DEFAULT_LEVERAGE_SOURCE
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", path)


UNVERIFIED_GRID = (
    "unverified: tick/step sizes are the values these venues' instrument endpoints have "
    "served for years, written from memory; no stored copy of the endpoint was read in this pass"
)


def main(shared: Path) -> None:
    binance = json.loads((shared / "binance.json").read_text())
    bybit = json.loads((shared / "bybit.json").read_text())
    okx = json.loads((shared / "okx.json").read_text())
    hl = json.loads((shared / "hyperliquid.json").read_text())
    dydx = json.loads((shared / "dydx.json").read_text())
    gate = json.loads((shared / "gate.json").read_text())

    # ---------------- Binance USDⓈ-M ----------------
    liq_rates = binance["liquidation_fee"]["rate"]
    write(
        "binance-usdm",
        {
            "schema": "perpmargin.venue/1",
            "id": "binance-usdm",
            "name": "Binance USDⓈ-M perpetual futures",
            "version": "2024-10-24.1",
            "as_of": binance["as_of"],
            "source": "shared/data/venues/binance.json (tiers: " + binance["source"] + ")",
            "settle_precision": "0.00000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way", "hedge"],
                "margin_mode_scope": "symbol",
                "margin_mode_switch_blocked_by_open_orders": True,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": False, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "https://www.binance.com/en/support/faq/360038075852 (2020-01-03)",
                    "margin_mode_switch": "same FAQ; API errors -4047 (open orders), -4048 (position)",
                    "position_mode": "https://www.binance.com/en/support/faq/what-is-hedge-mode-and-how-to-use-it-360041513552; API -4067/-4068",
                    "leverage_decrease_with_position": "API error -4161 'Leverage reduction is not supported in Isolated Margin Mode with open positions'",
                    "remove_margin": "https://binance.com/en/support/articles/360038447311 (max removable formula)",
                },
            },
            "fees": {
                "maker": dec(binance["fees"]["maker"]),
                "taker": dec(binance["fees"]["taker"]),
                "source": binance["fees"]["source"],
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": "0.0125",
                "fee_basis": "notional at the liquidation (mark) price of the part liquidated",
                "remainder_to": "insurance_fund",
                "close_fee_in_maintenance": False,
                "source": binance["liquidation_fee"]["source"]
                + "; remainder to the insurance fund: https://www.binance.com/en-NZ/support/faq/binance-futures-liquidation-protocols-360033525271",
                "as_of": binance["liquidation_fee"]["as_of"],
            },
            "funding": {
                "interval_hours": 8,
                "source": binance["funding"]["source"],
            },
            "symbols": {
                "BTCUSDT": {
                    "ccxt_symbol": "BTC/USDT:USDT",
                    "base": "BTC",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "tick_size": "0.10",
                    "step_size": "0.001",
                    "min_quantity": "0.001",
                    "max_quantity": "1000",
                    "grid_source": UNVERIFIED_GRID,
                    "liquidation_fee_rate": dec(liq_rates["BTCUSDT"]),
                    "tier_basis": "notional",
                    "tiers": tiers_from_ccxt(binance["leverage_tiers"]["BTC/USDT:USDT"]),
                    "tiers_source": binance["source"],
                    "tiers_as_of": binance["as_of"],
                },
                "ETHUSDT": {
                    "ccxt_symbol": "ETH/USDT:USDT",
                    "base": "ETH",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "tick_size": "0.01",
                    "step_size": "0.001",
                    "min_quantity": "0.001",
                    "max_quantity": "10000",
                    "grid_source": UNVERIFIED_GRID,
                    "liquidation_fee_rate": dec(liq_rates["ETHUSDT"]),
                    "tier_basis": "notional",
                    "tiers": tiers_from_ccxt(binance["leverage_tiers"]["ETH/USDT:USDT"]),
                    "tiers_source": binance["source"],
                    "tiers_as_of": binance["as_of"],
                },
            },
            "historical_tiers": {
                h["symbol"]: {
                    "as_of": h["as_of"],
                    "source": h["source"],
                    "note": h.get("note", ""),
                    "tiers": [
                        {
                            "tier": t["tier"],
                            "min_notional": dec(t["minNotional"]),
                            "max_notional": dec(t["maxNotional"]),
                            "maintenance_margin_rate": dec(t["maintenanceMarginRate"]),
                            "maintenance_amount": dec(t["maintenanceAmount"]),
                        }
                        for t in h["tiers"]
                    ],
                }
                for h in binance["historical_leverage_tiers"]
            },
        },
    )

    # ---------------- Bybit linear ----------------
    write(
        "bybit-linear",
        {
            "schema": "perpmargin.venue/1",
            "id": "bybit-linear",
            "name": "Bybit USDT perpetual (linear), Unified Trading Account",
            "version": "2026-09-17.1",
            "as_of": bybit["leverage_tiers_as_of"],
            "source": "shared/data/venues/bybit.json",
            "settle_precision": "0.00000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way", "hedge"],
                "margin_mode_scope": "account",
                "margin_mode_switch_blocked_by_open_orders": True,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": True, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "https://bybit-exchange.github.io/docs/v5/account/set-margin-mode ('Default is regular margin mode')",
                    "margin_mode_scope": "UTA: the mode applies to the whole account (Bybit help 'Differences Between the Margin Modes Under the Unified Trading Account', 2025-05-12)",
                    "margin_mode_switch": "exact UTA preconditions not found; modelled as: no position or open order on any symbol (assumption)",
                    "position_mode": "https://bybit-exchange.github.io/docs/v5/position/position-mode (110024 position, 110028 open orders)",
                    "remove_margin": "https://bybit-exchange.github.io/docs/v5/position/manual-add-margin (negative margin; 110046 'would trigger immediate liquidation')",
                },
            },
            "fees": {
                "maker": dec(bybit["fees"]["maker"]),
                "taker": dec(bybit["fees"]["taker"]),
                "source": bybit["fees"]["source"],
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": "0",
                "fee_basis": "no separate clearance fee; the margin left between liquidation and bankruptcy price goes to the insurance fund",
                "remainder_to": "insurance_fund",
                "close_fee_in_maintenance": True,
                "close_fee_basis": "bankruptcy",
                "source": bybit["liquidation_fee"]["note"]
                + " help.bybit.com/hc/en-us/articles/900000167723",
            },
            "funding": {"interval_hours": 8, "source": bybit["funding"]["source"]},
            "symbols": {
                "BTCUSDT": {
                    "ccxt_symbol": "BTC/USDT:USDT",
                    "base": "BTC",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "tick_size": "0.10",
                    "step_size": "0.001",
                    "min_quantity": "0.001",
                    "max_quantity": "1190",
                    "grid_source": UNVERIFIED_GRID,
                    "tier_basis": "notional",
                    "tiers": tiers_from_ccxt(bybit["leverage_tiers"]["BTC/USDT:USDT"]),
                    "tiers_source": bybit["leverage_tiers_source"]
                    + " maintenance_amount (mmDeduction) derived by continuity: amount_n = amount_(n-1) + min_notional_n x (MMR_n - MMR_(n-1)).",
                    "tiers_as_of": bybit["leverage_tiers_as_of"],
                },
            },
            "missing": bybit["missing"],
        },
    )

    # ---------------- OKX swap ----------------
    okx_pt = okx["position_tiers_swap"]
    write(
        "okx-swap",
        {
            "schema": "perpmargin.venue/1",
            "id": "okx-swap",
            "name": "OKX USDT-margined perpetual swaps",
            "version": "2026-05-28.1",
            "as_of": okx_pt["as_of"],
            "source": "shared/data/venues/okx.json",
            "settle_precision": "0.00000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way", "hedge"],
                "margin_mode_scope": "symbol",
                "margin_mode_switch_blocked_by_open_orders": True,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": True, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "not found in an official source; assumption (cross), see RULES.md",
                    "margin_mode_switch": "third-party only (www.roedsa.com/6580.html): per contract, no open position or pending order",
                    "position_mode": "OKX account posMode net_mode / long_short_mode (https://www.okx.com/docs-v5/en/)",
                },
            },
            "fees": {
                "maker": dec(okx["fees"]["maker"]),
                "taker": dec(okx["fees"]["taker"]),
                "source": okx["fees"]["source"],
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": dec(okx["fees"]["taker"]),
                "fee_basis": "OKX counts a liquidation fee of notional x taker rate in the margin-ratio denominator; charged to the insurance fund",
                "remainder_to": "trader",
                "close_fee_in_maintenance": True,
                "source": okx["liquidation_fee"]["source"]
                + "; remainder to the trader is an assumption (no stored source read)",
            },
            "funding": {
                "interval_hours": 8,
                "source": "OKX BTC-USDT-SWAP settles every 8 h (assumption for other symbols)",
            },
            "symbols": {
                "BTC-USDT-SWAP": {
                    "ccxt_symbol": "BTC/USDT:USDT",
                    "base": "BTC",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "contract_value": okx["contract_values"]["BTC-USDT-SWAP"]["ctVal"].__str__(),
                    "tick_size": "0.1",
                    "step_size": "0.0001",
                    "min_quantity": "0.0001",
                    "max_quantity": "11400",
                    "grid_source": UNVERIFIED_GRID
                    + " (lot 0.01 contract x ctVal 0.01 BTC = 0.0001 BTC)",
                    "tier_basis": "quantity",
                    "tiers": okx_tiers(okx_pt["leverage_tiers"]["BTC-USDT-SWAP"], "0.01"),
                    "tiers_source": okx_pt["source"]
                    + " Bounds converted from contracts to BTC (x ctVal 0.01).",
                    "tiers_as_of": okx_pt["as_of"],
                },
                "ETH-USDT-SWAP": {
                    "ccxt_symbol": "ETH/USDT:USDT",
                    "base": "ETH",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "contract_value": "0.1",
                    "tick_size": "0.01",
                    "step_size": "0.001",
                    "min_quantity": "0.001",
                    "max_quantity": "97500",
                    "grid_source": UNVERIFIED_GRID
                    + " (lot 0.01 contract x ctVal 0.1 ETH = 0.001 ETH)",
                    "tier_basis": "quantity",
                    "tiers": okx_tiers(okx_pt["leverage_tiers"]["ETH-USDT-SWAP"], "0.1"),
                    "tiers_source": okx_pt["source"]
                    + " Bounds converted from contracts to ETH (x ctVal 0.1).",
                    "tiers_as_of": okx_pt["as_of"],
                },
            },
            "missing": okx_pt["missing"],
        },
    )

    # ---------------- Hyperliquid ----------------
    def hl_symbol(coin: str, tick: str, step: str, max_q: str) -> dict:
        return {
            "ccxt_symbol": f"{coin}/USDC:USDC",
            "base": coin,
            "quote": "USDC",
            "settle": "USDC",
            "contract": "linear",
            "tick_size": tick,
            "step_size": step,
            "min_quantity": step,
            "max_quantity": max_q,
            "grid_source": "step = 10^-szDecimals; prices are limited to 5 significant figures on Hyperliquid, "
            "which is not modelled (tick given is the finest allowed). " + UNVERIFIED_GRID,
            "tier_basis": "notional",
            "tiers": tiers_from_ccxt(hl["leverage_tiers"][f"{coin}/USDC:USDC"]),
            "tiers_source": hl["source"] + ". " + hl["derivation"],
            "tiers_as_of": hl["as_of"],
        }

    write(
        "hyperliquid",
        {
            "schema": "perpmargin.venue/1",
            "id": "hyperliquid",
            "name": "Hyperliquid USDC perpetuals",
            "version": "2025.1",
            "as_of": hl["as_of"],
            "source": "shared/data/venues/hyperliquid.json",
            "settle_precision": "0.000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way"],
                "margin_mode_scope": "symbol",
                "margin_mode_switch_blocked_by_open_orders": False,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": True, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margining",
                    "margin_mode_scope": "updateLeverage {asset, isCross, leverage} is per asset",
                    "position_mode": "no hedge mode found in the official docs",
                    "margin_mode_switch": "not found; modelled as: no open position in the asset (orders do not block)",
                },
            },
            "fees": {
                "maker": dec(hl["fees"]["maker"]),
                "taker": dec(hl["fees"]["taker"]),
                "source": hl["fees"]["source"],
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": "0",
                "fee_basis": hl["liquidation_fee"]["note"],
                "remainder_to": "trader",
                "close_fee_in_maintenance": False,
                "maintenance_rule": "half_initial_at_max_leverage",
                "source": hl["liquidation_fee"]["source"]
                + "; maintenance margin = half the initial margin at max leverage: "
                "https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers",
            },
            "funding": {"interval_hours": 1, "source": hl["funding"]["source"]},
            "symbols": {
                "BTC": hl_symbol("BTC", "0.1", "0.00001", "10000"),
                "ETH": hl_symbol("ETH", "0.01", "0.0001", "100000"),
                "SOL": hl_symbol("SOL", "0.001", "0.01", "10000000"),
                "XRP": hl_symbol("XRP", "0.00001", "1", "100000000"),
            },
        },
    )

    # ---------------- dYdX v4 ----------------
    mmf = dydx["market_margin_fractions"]

    def dydx_symbol(market: str, tick: str, step: str) -> dict:
        row = mmf[market]
        imf = Decimal(dec(row["initialMarginFraction"]))
        return {
            "ccxt_symbol": market.replace("-USD", "/USD:USDC"),
            "base": market.split("-")[0],
            "quote": "USD",
            "settle": "USDC",
            "contract": "linear",
            "tick_size": tick,
            "step_size": step,
            "min_quantity": step,
            "max_quantity": "1000000",
            "grid_source": UNVERIFIED_GRID,
            "tier_basis": "notional",
            "tiers": [
                {
                    "tier": 1,
                    "min_notional": "0",
                    "max_notional": None,
                    "maintenance_margin_rate": dec(row["maintenanceMarginFraction"]),
                    "maintenance_amount": "0",
                    "max_leverage": dec(Decimal(1) / imf),
                    "initial_margin_rate": dec(imf),
                }
            ],
            "tiers_source": row["source"]
            + (" CAVEAT: " + row["caveat"] if "caveat" in row else ""),
            "tiers_as_of": row["as_of"],
        }

    write(
        "dydx-v4",
        {
            "schema": "perpmargin.venue/1",
            "id": "dydx-v4",
            "name": "dYdX v4 (dYdX Chain) USDC perpetuals",
            "version": "2025-07.1",
            "as_of": "2025-07",
            "source": "shared/data/venues/dydx.json",
            "settle_precision": "0.000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way"],
                "margin_mode_scope": "symbol",
                "margin_mode_switch_blocked_by_open_orders": True,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": True, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "frontends use subaccount 0 (cross) for all cross-margin trading (docs.dydx.exchange how_to_transfer_tokens_between_accounts)",
                    "isolated": "isolated positions live in child subaccounts 128..128000, one position each (https://docs.dydx.xyz/concepts/trading/isolated-positions)",
                    "position_mode": "no hedge mode in dYdX v4",
                },
            },
            "fees": {
                "maker": "0.0001",
                "taker": "0.0005",
                "source": "unverified: dYdX v4 base fee tier (maker 1 bps, taker 5 bps) written from memory; no stored source read",
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": dec(dydx["liquidation_fee"]["max_rate"]),
                "fee_basis": dydx["liquidation_fee"]["basis"],
                "remainder_to": "trader",
                "close_fee_in_maintenance": False,
                "source": dydx["liquidation_fee"]["source"],
            },
            "funding": {
                "interval_hours": 1,
                "source": "dYdX v4 pays funding hourly (unverified, from memory)",
            },
            "symbols": {
                "BTC-USD": dydx_symbol("BTC-USD", "1", "0.0001"),
                "ETH-USD": dydx_symbol("ETH-USD", "0.1", "0.001"),
            },
        },
    )

    # ---------------- Gate USDT futures ----------------
    gate_rows = [r for r in gate["leverage_tiers"]["BTC/USDT:USDT"] if r["tier"] <= 3]
    gc = gate["contracts"]["BTC_USDT"]["live_2026_08_09"]
    write(
        "gate-futures",
        {
            "schema": "perpmargin.venue/1",
            "id": "gate-futures",
            "name": "Gate USDT-margined perpetual futures",
            "version": "2026-08-09.1",
            "as_of": gate["leverage_tiers_as_of"],
            "source": "shared/data/venues/gate.json",
            "settle_precision": "0.00000001",
            "rules": {
                "default_margin_mode": "cross",
                "default_position_mode": "one-way",
                "position_modes": ["one-way", "hedge"],
                "margin_mode_scope": "symbol",
                "margin_mode_switch_blocked_by_open_orders": True,
                "position_mode_switch_blocked_by_open_orders": True,
                "leverage_decrease_with_position": {"isolated": True, "cross": True},
                "remove_margin": True,
                "sources": {
                    "default_margin_mode": "third-party only (kdj.com, 2025-07-24); unverified",
                    "margin_mode_switch": "Gate help 22121: only with no open position and no open order in the contract",
                    "leverage_change": "Gate help 22121: leverage can be changed while a position is open",
                },
            },
            "fees": {
                "maker": dec(gate["fees"]["maker"]),
                "taker": dec(gate["fees"]["taker"]),
                "source": gate["fees"]["basis"],
            },
            "liquidation": {
                "trigger": "mark",
                "fee_rate": "0",
                "fee_basis": "the taker rate is part of the liquidation condition (MMR + taker rate); after forced liquidation the user loses all position margin",
                "remainder_to": "insurance_fund",
                "close_fee_in_maintenance": True,
                "source": gate["liquidation"]["liquidation_price_rule"]["sources"][0]
                + "; "
                + gate["liquidation"]["after_liquidation"]["source"],
            },
            "funding": {"interval_hours": 8, "source": gate["funding"]["source"]},
            "symbols": {
                "BTC_USDT": {
                    "ccxt_symbol": "BTC/USDT:USDT",
                    "base": "BTC",
                    "quote": "USDT",
                    "settle": "USDT",
                    "contract": "linear",
                    "contract_value": dec(gc["order_size_min"] * 0.0001),
                    "tick_size": dec(gc["order_price_round"]),
                    "step_size": "0.0001",
                    "min_quantity": "0.0001",
                    "max_quantity": "1200",
                    "grid_source": gc["source"] + " (1 contract = quanto_multiplier 0.0001 BTC)",
                    "tier_basis": "notional",
                    "tiers": tiers_from_ccxt(gate_rows),
                    "tiers_source": gate["leverage_tiers_source"]
                    + " Only tiers 1-3 are contiguous in the source; positions above 1,500,000 USDT are refused.",
                    "tiers_as_of": gate["leverage_tiers_as_of"],
                },
            },
            "missing": gate["missing"],
        },
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/venues"))
