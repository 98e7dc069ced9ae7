"""The FastAPI application: API, pages, static assets, limits and error answers.

``create_app(db_path=..., limits=...)`` builds a fresh app (tests make one per database);
``perpmargin serve`` runs one under uvicorn. Assets, plotly.js included, are served by
the app itself, so the pages work with no network.
"""

from __future__ import annotations

import decimal
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perpmargin._version import __version__
from perpmargin.errors import PerpMarginError
from perpmargin.web import api, pages
from perpmargin.web.jobs import JobManager
from perpmargin.web.service import Limits
from perpmargin.web.store import Store

__all__ = ["create_app", "default_db_path"]


def default_db_path() -> Path:
    """``$PERPMARGIN_DB``, else ``$XDG_DATA_HOME/perpmargin/perpmargin.db``."""
    if os.environ.get("PERPMARGIN_DB"):
        return Path(os.environ["PERPMARGIN_DB"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "perpmargin" / "perpmargin.db"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a 413 (by header, and while reading)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    # complexity waived (C901): one branch per refusal of the guard (size, host, origin, time)
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size < 0 or size > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "error": "RequestTooLarge",
            "detail": f"request bodies are limited to {self.max_bytes:,} bytes",
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    pass


class SameOrigin:
    """Refuse a state-changing request sent by another site's page (403).

    Browsers send ``Origin`` with cross-site form posts; a POST/DELETE whose Origin is
    not this server's own host is refused, so a page elsewhere cannot save or delete
    here. Requests without Origin (curl, scripts, tests) pass.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope.get("headers", []))
            origin = headers.get(b"origin")
            host = headers.get(b"host", b"")
            if origin is not None and urlsplit(origin.decode("latin-1")).netloc.encode() != host:
                body = {"error": "CrossOrigin", "detail": "requests from other sites are refused"}
                await JSONResponse(body, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    # only loc, msg and type: the rejected input itself may be NaN, bytes, or huge
    return [
        {
            "loc": [str(x) for x in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and isinstance(route, APIRoute | Route):
            methods |= set(route.methods or ())
    return sorted(methods)


def create_app(
    db_path: str | Path | None = None,
    limits: Limits | None = None,
) -> FastAPI:
    """A new app with its own database (created on first use) and job runner."""
    lim = limits or Limits()
    store = Store(db_path if db_path is not None else default_db_path())
    jobs = JobManager(max_pending=lim.max_jobs)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    app = FastAPI(
        title="perpmargin",
        version=__version__,
        description=(
            "Isolated vs cross margin, exactly as venues model it: liquidation prices, "
            "pre-trade checks, side-by-side replays and Monte Carlo odds. Decimal values "
            "are strings; every bad input is a 4xx with a message."
        ),
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.limits = lim
    app.state.jobs = jobs
    app.add_middleware(BodyLimit, max_bytes=lim.max_body_bytes)
    app.add_middleware(SameOrigin)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        if pages.wants_html(_):
            return pages.error_page(_, 422, _validation_detail(exc))
        return JSONResponse(
            {"error": "ValidationError", "detail": _validation_detail(exc)}, status_code=422
        )

    @app.exception_handler(PerpMarginError)
    async def refused(request: Request, exc: PerpMarginError) -> Response:
        if pages.wants_html(request):
            return pages.error_page(request, 422, str(exc))
        return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=422)

    @app.exception_handler(decimal.DecimalException)
    async def out_of_range(request: Request, exc: decimal.DecimalException) -> Response:
        detail = f"a number is out of the range perpmargin computes with ({type(exc).__name__})"
        if pages.wants_html(request):
            return pages.error_page(request, 422, detail)
        return JSONResponse({"error": "InvalidInput", "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if pages.wants_html(request):
            return pages.error_page(request, exc.status_code, str(exc.detail))
        name = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed"}.get(
            exc.status_code, "HTTPError"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just the first route's
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(
            {"error": name, "detail": exc.detail}, status_code=exc.status_code, headers=headers
        )

    static = resources.files("perpmargin.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        import plotly

        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        return FileResponse(path, media_type="text/javascript")

    app.include_router(api.router)
    app.include_router(pages.router)
    return app
