"""Run the app under uvicorn, on localhost unless told otherwise."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from perpmargin.errors import InvalidInput

__all__ = ["GRACEFUL_SHUTDOWN_S", "header_timeout_protocol", "is_local", "serve"]

#: Seconds that open requests get to finish once the server is told to stop.
GRACEFUL_SHUTDOWN_S = 5

_TIMEOUT_BODY = b'{"error":"RequestTimeout","detail":"the request headers took too long"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


class _HeaderTimeout(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection that has not sent a complete
    request's headers within ``header_timeout_s`` seconds of opening or of its last
    answer (uvicorn alone waits for them forever); it answers 408 first."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_late)

    def _too_late(self) -> None:
        # IDLE: no request's headers complete since the timer was armed
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's ``http=`` protocol class that closes connections slow to send headers."""
    return type("HeaderTimeoutH11", (_HeaderTimeout,), {"header_timeout_s": float(seconds)})


def is_local(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    db_path: str | Path | None = None,
    allow_remote: bool = False,
) -> None:
    """Serve the web app until interrupted.

    A host other than a loopback address needs ``allow_remote=True`` (the app has no
    login: anyone who can reach it can use it) and prints a warning. The app answers
    requests addressed to ``host``, 127.0.0.1, localhost or ::1 (a Host header naming
    anything else is refused), and closes connections whose headers take longer than
    ``Limits.header_timeout_s``.
    """
    import uvicorn

    from perpmargin.web.app import create_app, default_db_path

    if not 0 < port < 65536:
        raise InvalidInput(f"port must be from 1 to 65535, was {port}")
    if not is_local(host):
        if not allow_remote:
            raise InvalidInput(
                f"{host} is not a local address: pass --allow-remote to listen there "
                "(the app has no login; anyone who can reach it can use it)"
            )
        print(
            f"WARNING: listening on {host}:{port}, reachable from other machines; "
            "perpmargin has no login or TLS. It answers requests addressed to "
            f"{host} (give the address clients use as --host).",
            file=sys.stderr,
        )
    db = Path(db_path) if db_path is not None else default_db_path()
    app = create_app(db, hosts=[host])
    print(f"perpmargin on http://{host}:{port}/ (local only: {is_local(host)}); database {db}")
    protocol = header_timeout_protocol(app.state.limits.header_timeout_s)
    # Ctrl-C: open requests get a few seconds (a background job is stopped at its next
    # progress report by the app's shutdown), then the server exits
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        http=protocol,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
