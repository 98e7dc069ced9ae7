"""Reading ccxt's unified JSON structures, field by field, with errors that name the field.

ccxt (https://docs.ccxt.com, "Unified API": Position / Balance / Leverage Tier / Market
structures) returns floats, ``None`` for what a venue does not report, and an ``info``
dict with the venue's raw answer. Floats are turned into Decimal through their repr, so
``0.1`` is ``Decimal("0.1")``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from perpmargin.errors import InvalidInput
from perpmargin.numeric import to_decimal

__all__ = ["CcxtFormatError", "field_decimal", "field_text", "read_json"]


class CcxtFormatError(InvalidInput):
    """A ccxt structure is missing a field or holds a bad value; the message names it."""


def read_json(source: str | Path | Any, label: str) -> Any:
    """Parse a saved ccxt response: a path to a JSON file, or already-parsed data."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise CcxtFormatError(f"{label}: no such file {str(path)!r}")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CcxtFormatError(f"{label}: {path.name} is not valid JSON ({exc})") from None
    return source


def field_text(
    doc: Mapping[str, Any], key: str, where: str, *, required: bool = True
) -> str | None:
    """A string field (``None`` when absent and not required)."""
    value = doc.get(key)
    if value is None:
        if required:
            raise CcxtFormatError(f"{where}.{key} is missing")
        return None
    if not isinstance(value, str) or not value:
        raise CcxtFormatError(f"{where}.{key} must be a non-empty string, was {value!r}")
    return value


def field_decimal(
    doc: Mapping[str, Any],
    key: str,
    where: str,
    *,
    required: bool = True,
    positive: bool = False,
    non_negative: bool = False,
) -> Decimal | None:
    """A numeric field (number or numeric string) as Decimal; ``None`` when absent."""
    value = doc.get(key)
    if value is None or value == "":
        if required:
            raise CcxtFormatError(f"{where}.{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CcxtFormatError(f"{where}.{key} must be a number, was {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise CcxtFormatError(f"{where}.{key} must be finite, was {value!r}")
    try:
        return to_decimal(value, f"{where}.{key}", positive=positive, non_negative=non_negative)
    except InvalidInput as exc:
        raise CcxtFormatError(str(exc)) from None
