"""The FastAPI application: API, pages, static assets, limits and error answers.

``create_app(db_path=..., limits=...)`` builds a fresh app (tests make one per database);
``perpmargin serve`` runs one under uvicorn. Assets, plotly.js and the API docs' Swagger
UI included, are served by the app itself, so the pages work with no network.
It answers only requests addressed to this machine by name (127.0.0.1, localhost, ::1
and the host it listens on), so a page elsewhere cannot reach it by DNS rebinding.
"""

from __future__ import annotations

import asyncio
import decimal
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perpmargin._version import __version__
from perpmargin.errors import PerpMarginError
from perpmargin.web import api, pages
from perpmargin.web.jobs import JobManager
from perpmargin.web.jsonbody import json_problem
from perpmargin.web.service import Limits, RunGate, ServerBusy
from perpmargin.web.store import Store

__all__ = ["LOCAL_HOSTS", "create_app", "default_db_path"]

#: Host names every app answers to; ``create_app(hosts=...)`` adds the one it listens on.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

#: Files served under ``/vendor/``: (installed package, path inside it, media type).
_VENDOR = {
    "plotly.min.js": ("plotly", "package_data/plotly.min.js", "text/javascript"),
    "swagger-ui-bundle.js": ("fastapi_offline", "static/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("fastapi_offline", "static/swagger-ui.css", "text/css"),
    "favicon.png": ("fastapi_offline", "static/favicon.png", "image/png"),
}


def default_db_path() -> Path:
    """``$PERPMARGIN_DB``, else ``$XDG_DATA_HOME/perpmargin/perpmargin.db``."""
    if os.environ.get("PERPMARGIN_DB"):
        return Path(os.environ["PERPMARGIN_DB"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "perpmargin" / "perpmargin.db"


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a 413, before the app sees them.

    The body is read whole (sent with a length or chunked) and handed to the app in one
    piece. One found too large is read on and dropped, up to ``max_bytes`` more, so that
    the client finishes sending and reads the 413 instead of a reset connection; then the
    connection is closed. A declared length over twice the limit, or a client waiting
    for ``100 Continue``, is refused without reading. A body that has not all arrived
    ``timeout_s`` seconds after the headers is answered 408 and the connection closed.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = _content_length(headers)
        if declared is not None and not 0 <= declared <= self.max_bytes:
            waiting = headers.get(b"expect", b"").lower() == b"100-continue"
            if not waiting and 0 <= declared <= 2 * self.max_bytes:
                await _drain(receive, self.max_bytes)
            await self._refuse(scope, receive, send)
            return
        body = bytearray()
        more = True
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while more:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.0))
            except TimeoutError:
                await self._too_slow(scope, receive, send)
                return
            if message["type"] != "http.request":  # the client left
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.max_bytes:
                if more:
                    await _drain(receive, self.max_bytes)
                await self._refuse(scope, receive, send)
                return
        whole: Message | None = {"type": "http.request", "body": bytes(body), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is None:
                return await receive()  # after the body: only a disconnect can come
            message, whole = whole, None
            return message

        await self.app(scope, replay, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "error": "RequestTimeout",
            "detail": f"the request body took longer than {self.timeout_s:g} s to arrive",
        }
        response = JSONResponse(body, status_code=408, headers={"Connection": "close"})
        await response(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "error": "RequestTooLarge",
            "detail": f"request bodies are limited to {self.max_bytes:,} bytes",
        }
        response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


class StrictJson:
    """Refuse a JSON body that the app would read as something it does not say: a key
    given twice (``{"entry": "NaN", "entry": "50000"}`` passed as 50000, the first value
    never checked) or nesting too deep to parse. A 422 naming the key; other bodies
    (forms, uploads, JSON that does not parse, left to the app's own 422) pass as they
    are. Runs inside :class:`BodyLimit`, so the body arrives whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        if b"json" not in headers.get(b"content-type", b"").lower():
            await self.app(scope, receive, send)
            return
        message = await receive()
        problem = json_problem(message.get("body", b""))
        if problem is not None:
            response = JSONResponse({"error": "InvalidInput", "detail": problem}, 422)
            await response(scope, receive, send)
            return
        first: Message | None = message

        async def replay() -> Message:
            nonlocal first
            if first is None:
                return await receive()
            out, first = first, None
            return out

        await self.app(scope, replay, send)


def _content_length(headers: dict[bytes, bytes]) -> int | None:
    """The declared body size in bytes (-1 when it cannot be read), or None."""
    if b"content-length" not in headers:
        return None
    try:
        return max(-1, int(headers[b"content-length"]))
    except ValueError:
        return -1


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a request body, up to ``budget`` bytes."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _host_name(host: str) -> str:
    """The name in a Host header, in lower case, without its port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0]


class AllowedHosts:
    """Answer only requests whose ``Host`` names this server; others get a 400.

    A page on another site can point its own name at 127.0.0.1 (DNS rebinding); the
    browser then sends ``Host: that-site`` and lets the page read the answers. The port
    is not checked.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(h.strip("[]").lower() for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            if _host_name(host) not in self.hosts:
                body = {
                    "error": "UnknownHost",
                    "detail": f"this server answers to {', '.join(sorted(self.hosts))}; "
                    f"the request was for {host[:80]!r}",
                }
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


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


_assets = APIRouter(include_in_schema=False)


@_assets.get("/vendor/{name}")
def vendor(name: str) -> FileResponse:
    """plotly.js and Swagger UI, from the installed packages that ship them."""
    if name not in _VENDOR:
        raise StarletteHTTPException(404, f"no vendored file {name[:80]!r}")
    package, inside, media_type = _VENDOR[name]
    path = Path(str(resources.files(package).joinpath(inside)))
    return FileResponse(path, media_type=media_type)


@_assets.get("/docs")
def swagger_ui() -> HTMLResponse:
    """The API's Swagger UI, with its script and styles served here."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="perpmargin API",
        swagger_js_url="/vendor/swagger-ui-bundle.js",
        swagger_css_url="/vendor/swagger-ui.css",
        swagger_favicon_url="/vendor/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},  # no badge from the validator's site
    )


def create_app(
    db_path: str | Path | None = None,
    limits: Limits | None = None,
    hosts: Iterable[str] = (),
) -> FastAPI:
    """A new app with its own database (created on first use) and job runner.

    ``hosts``: names it answers to besides :data:`LOCAL_HOSTS` (the host it listens on).
    """
    lim = limits or Limits()
    path = db_path if db_path is not None else default_db_path()
    store = Store(path, max_json_chars=lim.max_saved_chars)
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
        docs_url=None,  # /docs is served with a local copy of Swagger UI; no ReDoc
        redoc_url=None,
    )
    app.state.store = store
    app.state.limits = lim
    app.state.jobs = jobs
    app.state.gate = RunGate(lim.max_concurrent_runs)
    app.add_middleware(StrictJson)  # inside BodyLimit: it sees the whole body
    app.add_middleware(BodyLimit, max_bytes=lim.max_body_bytes, timeout_s=lim.body_timeout_s)
    app.add_middleware(SameOrigin)
    app.add_middleware(AllowedHosts, hosts=(*LOCAL_HOSTS, *hosts))  # outermost: first

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Response:
        if pages.wants_html(_):
            return pages.error_page(_, 422, _validation_detail(exc))
        return JSONResponse(
            {"error": "ValidationError", "detail": _validation_detail(exc)}, status_code=422
        )

    @app.exception_handler(PerpMarginError)
    async def refused(request: Request, exc: PerpMarginError) -> Response:
        status = 429 if isinstance(exc, ServerBusy) else 422
        if pages.wants_html(request):
            return pages.error_page(request, status, str(exc))
        return JSONResponse(
            {"error": type(exc).__name__, "detail": str(exc)},
            status_code=status,
            headers={"Retry-After": "2"} if status == 429 else None,
        )

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

    app.include_router(_assets)
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
