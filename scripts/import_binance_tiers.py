"""Turn a ccxt ``fetch_leverage_tiers()`` dump of Binance USDⓈ-M into the bundled tier
snapshot ``src/perpmargin/venues/data/snapshots/binance-usdm-<date>.json.gz``.

The dump used: freqtrade's public ``freqtrade/exchange/binance_leverage_tiers.json`` at
commit 2832c6b8588dbbf35d5e66e28a679fa99255ef32 (Freqtrade Bot, 2026-03-05; merged as
freqtrade/freqtrade PR #12898), which freqtrade's CI writes weekly from Binance's
``/fapi/v1/leverageBracket`` through ccxt. Facts (the tier tables), attributed; no code.

Kept: the perpetuals settled in USDT or USDC (dated futures and the BTC-settled ETH/BTC
contract are left out). Per tier: the notional bounds, the maintenance margin rate, the
maintenance amount (Binance's ``cum``) and the maximum leverage, as the dump gives them.

Usage: python scripts/import_binance_tiers.py RAW.json [OUT.json.gz]
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from decimal import Decimal
from pathlib import Path

SOURCE = (
    "freqtrade/freqtrade freqtrade/exchange/binance_leverage_tiers.json at commit "
    "2832c6b8588dbbf35d5e66e28a679fa99255ef32 (2026-03-05, PR #12898): ccxt "
    "fetch_leverage_tiers() of Binance /fapi/v1/leverageBracket, mainnet"
)
AS_OF = "2026-03-05"


def _text(x: object) -> str:
    """A JSON number as the shortest decimal text (1.0 -> "1", 0.0125 -> "0.0125")."""
    d = Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x))
    text = format(d.normalize(), "f")
    return text


def convert(raw: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    symbols: dict[str, object] = {}
    for ccxt_symbol, tiers in sorted(raw.items()):
        pair, _, settle = ccxt_symbol.partition(":")
        if settle not in ("USDT", "USDC"):
            continue  # dated futures (USDT-260327) and the BTC-settled ETH/BTC
        base, _, quote = pair.partition("/")
        rows = []
        for t in tiers:
            info = t["info"]
            assert isinstance(info, dict)
            rows.append(
                {
                    "tier": int(float(str(t["tier"]))),
                    "min_notional": _text(t["minNotional"]),
                    # Binance writes "no cap" as 2**63: the last tier is unbounded
                    "max_notional": None
                    if float(str(t["maxNotional"])) >= 1e18
                    else _text(t["maxNotional"]),
                    "maintenance_margin_rate": _text(t["maintenanceMarginRate"]),
                    "maintenance_amount": _text(info["cum"]),
                    "max_leverage": _text(t["maxLeverage"]),
                }
            )
        symbols[f"{base}{quote}"] = {"ccxt_symbol": ccxt_symbol, "tiers": rows}
    return {
        "schema": "perpmargin.tier-snapshot/1",
        "venue": "binance-usdm",
        "as_of": AS_OF,
        "source": SOURCE,
        "symbols": symbols,
    }


def main() -> None:
    raw_path = Path(sys.argv[1])
    out = Path(
        sys.argv[2]
        if len(sys.argv) > 2
        else f"src/perpmargin/venues/data/snapshots/binance-usdm-{AS_OF}.json.gz"
    )
    data = raw_path.read_bytes()
    doc = convert(json.loads(data))
    doc["raw_sha256"] = hashlib.sha256(data).hexdigest()
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    # mtime 0: the same input gives the same bytes
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
        gz.write(text)
    print(f"{len(doc['symbols'])} symbols -> {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
