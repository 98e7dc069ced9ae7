"""The exact reference engine: Decimal money, isolated and cross margin, typed ledger."""

from perpmargin.engine.account import Account
from perpmargin.engine.insurance import InsuranceFund
from perpmargin.engine.ledger import AccountState, LegState, replay
from perpmargin.engine.orders import Order
from perpmargin.engine.position import PositionView

__all__ = [
    "Account",
    "AccountState",
    "InsuranceFund",
    "LegState",
    "Order",
    "PositionView",
    "replay",
]
