"""A JSON body or text is refused before it is read when a key is given twice (the
second would silently win: ``{"entry": "NaN", "entry": "50000"}``) or it is nested too
deeply; used by the app's body guard and by the pages that take JSON in a form."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_problem"]


def json_problem(body: bytes) -> str | None:
    """Why ``body`` must be refused (a key given twice, too deep), or None."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise _DuplicateKey(key)
            seen[key] = value
        return seen

    try:
        json.loads(body, object_pairs_hook=pairs)
    except _DuplicateKey as exc:
        return f"the key {exc.args[0]!r} is given twice in the JSON body"
    except RecursionError:
        return "the JSON body is nested too deeply"
    except ValueError:  # not JSON (or not UTF-8): the app answers that itself
        return None
    return None


class _DuplicateKey(Exception):
    """A key given twice."""
