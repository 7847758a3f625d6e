"""The app's web server: Streamlit's own, with the paths in config/server.yaml hidden.

``streamlit run serve.py`` serves app.py through ``st.App`` with :class:`HiddenPaths` in front
of Streamlit's routes. Streamlit 1.67 answers ``/_stcore/metrics`` (cache function names,
session and memory figures) to anyone and has no setting to turn it off, so the middleware
answers 404 for it before Streamlit sees the request. Imports no streamlit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from oversight.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
SLASHES = re.compile(r"/+")


def load_hidden_paths(path: Path | None = None) -> tuple[str, ...]:
    """The ``hidden_paths`` of config/server.yaml, lower case, without slashes at the ends."""
    path = path or PROJECT_ROOT / "config" / "server.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or set(raw) - {"hidden_paths"}:
        raise ValueError(f"{path.name}: expected only the key hidden_paths")
    paths = raw.get("hidden_paths") or []
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip("/") for p in paths):
        raise ValueError(f"{path.name}: hidden_paths must be a list of paths such as _stcore/x")
    return tuple(normal_path(p) for p in paths)


def normal_path(path: str) -> str:
    """A request path compared as the server routes it: one slash between parts, any case."""
    return SLASHES.sub("/", path).strip("/").lower()


def is_hidden(path: str, hidden: Iterable[str]) -> bool:
    """True when ``path`` is a hidden path, under any base URL path."""
    wanted = normal_path(path)
    return any(wanted == h or wanted.endswith("/" + h) for h in hidden)


class HiddenPaths:
    """ASGI middleware: 404 for the hidden paths (HTTP and WebSocket), the rest passed on."""

    def __init__(self, app: ASGIApp, hidden: Iterable[str] | None = None) -> None:
        self.app = app
        self.hidden = tuple(hidden) if hidden is not None else load_hidden_paths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind not in {"http", "websocket"} or not is_hidden(scope.get("path", ""), self.hidden):
            await self.app(scope, receive, send)
            return
        logger.debug("hidden path requested: %s", scope.get("path"))
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": b"Not found\n"})
