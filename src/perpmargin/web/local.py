"""Run the app on a local port in a background thread, and find a Chromium to drive it.

Used by the browser tests and ``scripts/screenshots.py``; handy for notebooks too::

    with running(create_app(db)) as url:
        ...  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CHROMIUM_ARGS", "find_chromium", "free_port", "running"]

#: Flags for a headless Chromium on a machine with a closed network (no update,
#: sync or background lookups) and, as root, no sandbox.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """``$PERPMARGIN_CHROMIUM``, else a ``chromium`` / ``chromium-browser`` on the PATH."""
    given = os.environ.get("PERPMARGIN_CHROMIUM")
    if given:
        return given if os.path.exists(given) else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any, port: int | None = None, timeout_s: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread until the block ends; yield its base URL.

    As ``perpmargin serve`` does, connections slow to send headers are closed (after the
    app's ``Limits.header_timeout_s``, else 10 s).
    """
    import uvicorn

    from perpmargin.web.server import header_timeout_protocol

    chosen = port or free_port()
    limits = getattr(getattr(app, "state", None), "limits", None)
    protocol = header_timeout_protocol(getattr(limits, "header_timeout_s", 10.0))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=chosen, log_level="warning", lifespan="on", http=protocol
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="perpmargin-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the web app did not start on port {chosen}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{chosen}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)
