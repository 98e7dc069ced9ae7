"""Real accounts in, ccxt shapes out: import ccxt structures, export, reconcile.

::

    import perpmargin as pm
    from perpmargin import interop

    imp = interop.account_from_ccxt(
        "positions.json", balance="balance.json", venue="binance-usdm"
    )
    interop.positions_to_ccxt(imp.account)      # ccxt unified position dicts
    interop.reconcile(imp)                      # perpmargin vs the venue, per position
"""

from collections.abc import Mapping
from pathlib import Path

from perpmargin.interop.ccxt_format import CcxtFormatError
from perpmargin.interop.ccxt_in import (
    CCXT_EXCHANGE_VENUES,
    CCXT_INVERSE_VENUES,
    ImportedAccount,
    ImportedPosition,
    account_from_ccxt,
    load_ccxt_bundle,
    venue_for_exchange,
    venue_from_ccxt,
)
from perpmargin.interop.ccxt_out import balance_to_ccxt, positions_to_ccxt
from perpmargin.interop.live import LiveImportError, fetch_bundle
from perpmargin.interop.reconcile import ReconcileRow, largest_difference, reconcile
from perpmargin.interop.unified_in import unified_from_ccxt

__all__ = [
    "CCXT_EXCHANGE_VENUES",
    "CCXT_INVERSE_VENUES",
    "CcxtFormatError",
    "ImportedAccount",
    "ImportedPosition",
    "LiveImportError",
    "ReconcileRow",
    "account_from_ccxt",
    "balance_to_ccxt",
    "fetch_bundle",
    "import_bundle",
    "largest_difference",
    "load_ccxt_bundle",
    "positions_to_ccxt",
    "reconcile",
    "unified_from_ccxt",
    "venue_for_exchange",
    "venue_from_ccxt",
]


def import_bundle(
    bundle: "str | Path | Mapping[str, object]", *, venue: "str | None" = None
) -> ImportedAccount:
    """Import a saved bundle (see :func:`load_ccxt_bundle`) or a fetched one.

    The venue is ``venue`` if given, else the bundle's ``venue``, else the bundled venue
    of its ccxt ``exchange`` id.
    """
    from perpmargin.errors import InvalidInput

    doc = load_ccxt_bundle(bundle) if isinstance(bundle, str | Path) else dict(bundle)
    name = venue or doc.get("venue")
    if name is None and doc.get("exchange") is not None:
        positions = doc.get("positions")
        symbols = [
            str(p["symbol"])
            for p in (positions if isinstance(positions, list) else [])
            if isinstance(p, dict) and isinstance(p.get("symbol"), str)
        ]
        name = venue_for_exchange(str(doc["exchange"]), symbols)
    if name is None:
        raise InvalidInput("which venue? pass --venue (e.g. binance-usdm) or put it in the file")
    kind = doc.get("balance_kind", "equity")
    return account_from_ccxt(
        doc["positions"],
        venue=str(name),
        balance=doc.get("balance"),
        leverage_tiers=doc.get("leverage_tiers"),
        markets=doc.get("markets"),
        wallet_balance=doc.get("wallet_balance"),
        balance_kind=kind,  # type: ignore[arg-type]
    )
