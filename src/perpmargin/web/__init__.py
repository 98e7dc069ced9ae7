"""The local web app and HTTP API (``perpmargin serve``).

Pages: Calculator, Compare, Odds, Venues, Saved. API: ``/api/v1/...`` (OpenAPI at
``/openapi.json``, interactive at ``/docs``). See :func:`create_app` and :func:`serve`.
"""

from __future__ import annotations

from perpmargin.web.app import create_app, default_db_path
from perpmargin.web.server import serve

__all__ = ["create_app", "default_db_path", "serve"]
