"""Run the app under uvicorn, on localhost unless told otherwise."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from perpmargin.errors import InvalidInput

__all__ = ["is_local", "serve"]


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
    login: anyone who can reach it can use it) and prints a warning.
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
            "perpmargin has no login or TLS.",
            file=sys.stderr,
        )
    db = Path(db_path) if db_path is not None else default_db_path()
    app = create_app(db)
    print(f"perpmargin on http://{host}:{port}/ (local only: {is_local(host)}); database {db}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
