"""Read-only live import through the ``ccxt`` library (``pip install 'perpmargin[live]'``).

Keys come from environment variables only — ``PERPMARGIN_API_KEY``,
``PERPMARGIN_API_SECRET`` and, for venues that need one, ``PERPMARGIN_API_PASSWORD`` —
and are never printed, logged or put in an error message (an exchange error that echoes
one has it masked). Only ``fetch_*`` calls are made: positions, balance, markets and,
where the exchange has it, leverage tiers. The result is the same bundle a saved file
gives, so :func:`perpmargin.interop.account_from_ccxt` treats both alike.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

from perpmargin.errors import InvalidInput, PerpMarginError

__all__ = ["ENV_KEY", "ENV_PASSWORD", "ENV_SECRET", "LiveImportError", "fetch_bundle"]

ENV_KEY = "PERPMARGIN_API_KEY"
ENV_SECRET = "PERPMARGIN_API_SECRET"
ENV_PASSWORD = "PERPMARGIN_API_PASSWORD"
_READ_ONLY = ("fetch_positions", "fetch_balance", "load_markets", "fetch_leverage_tiers")


class LiveImportError(PerpMarginError):
    """ccxt is missing, keys are missing, or the exchange refused a read."""


def _credentials(env: Mapping[str, str]) -> dict[str, str]:
    key, secret = env.get(ENV_KEY), env.get(ENV_SECRET)
    if not key or not secret:
        raise LiveImportError(
            f"set {ENV_KEY} and {ENV_SECRET} in the environment (read-only keys); they are "
            "never taken from arguments or files"
        )
    creds = {"apiKey": key, "secret": secret}
    if env.get(ENV_PASSWORD):
        creds["password"] = env[ENV_PASSWORD]
    return creds


def _masked(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def fetch_bundle(
    exchange_id: str,
    *,
    symbols: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fetch positions, balance, markets and leverage tiers from ``exchange_id``.

    Returns ``{"exchange", "positions", "balance", "markets", "leverage_tiers"}`` as plain
    JSON-able data (no keys in it).
    """
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        raise LiveImportError(
            "the live import needs ccxt: pip install 'perpmargin[live]'"
        ) from None
    if not isinstance(exchange_id, str) or not hasattr(ccxt, exchange_id):
        raise InvalidInput(f"ccxt has no exchange {exchange_id!r}")
    creds = _credentials(os.environ if env is None else env)
    secrets = list(creds.values())
    exchange = getattr(ccxt, exchange_id)({**creds, "options": {"defaultType": "swap"}})
    try:
        markets = exchange.load_markets()
        positions = exchange.fetch_positions(list(symbols) if symbols else None)
        balance = exchange.fetch_balance()
        tiers = None
        if getattr(exchange, "has", {}).get("fetchLeverageTiers"):
            wanted = sorted({p["symbol"] for p in positions if p.get("symbol")})
            tiers = exchange.fetch_leverage_tiers(wanted or None)
    except Exception as exc:  # ccxt raises its own tree; never echo a key
        raise LiveImportError(
            f"{exchange_id}: {type(exc).__name__}: {_masked(str(exc), secrets)}"
        ) from None
    swap = {s: m for s, m in dict(markets).items() if m.get("swap")}
    return {
        "exchange": exchange_id,
        "positions": positions,
        "balance": balance,
        "markets": list(swap.values()),
        "leverage_tiers": tiers,
    }
