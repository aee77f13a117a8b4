"""The playground's web server: the standard library's ``http.server``, threaded.

Why the standard library: the playground serves four static files and four JSON
endpoints to one local browser, so a framework (and its dependency tree) buys nothing; the
standard library keeps convzoo installable offline and leaves the request handling small
enough to read in one sitting. It listens on 127.0.0.1 unless told otherwise.

What it serves, and nothing else: ``/`` (the page), ``/static/<name>`` for the names in
:data:`ASSETS` (looked up by exact name, never joined to a filesystem path, so no URL can
reach a file outside them), and the JSON API (:mod:`convzoo.serve.api`). Every API request
goes through convzoo's validation and size guard; a bad one gets ``400`` and
``{"error": "<convzoo's one-line message>"}``.
"""

from __future__ import annotations

import errno
import json
import sys
import threading
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from convzoo.serve.api import MAX_QUERY, conv_api, kinds_api, stack_api
from convzoo.serve.choices import choices_api

__all__ = ["ASSETS", "ROUTES", "PlaygroundHandler", "make_server", "serve", "url_of"]

#: Name -> (package, file, content type): the only files the server sends.
ASSETS: dict[str, tuple[str, str, str]] = {
    "index.html": ("convzoo.serve", "static/index.html", "text/html; charset=utf-8"),
    "playground.js": ("convzoo.serve", "static/playground.js",
                      "text/javascript; charset=utf-8"),
    "playground.css": ("convzoo.serve", "static/playground.css", "text/css; charset=utf-8"),
    "player.js": ("convzoo.viz", "static/player.js", "text/javascript; charset=utf-8"),
}

#: API path -> handler (query parameters -> JSON-ready dict).
ROUTES: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
    "/api/kinds": lambda params: kinds_api(),
    "/api/conv": conv_api,
    "/api/choices": choices_api,
    "/api/stack": stack_api,
}


def _asset(name: str) -> bytes:
    package, path, _ = ASSETS[name]
    return resources.files(package).joinpath(path).read_bytes()


class PlaygroundHandler(BaseHTTPRequestHandler):
    """GET only: the page, its assets, and the JSON API."""

    server_version = "convzoo-playground"
    quiet = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": " ".join(message.splitlines())})

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if len(self.path) > MAX_QUERY:
            self._error(HTTPStatus.REQUEST_URI_TOO_LONG,
                        f"the request (={len(self.path)} characters) is longer than the limit "
                        f"of {MAX_QUERY}")
            return
        parts = urlsplit(self.path)
        path = parts.path
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, _asset("index.html"), ASSETS["index.html"][2])
            return
        if path.startswith("/static/") and path[len("/static/"):] in ASSETS:
            name = path[len("/static/"):]
            self._send(HTTPStatus.OK, _asset(name), ASSETS[name][2])
            return
        if path in ROUTES:
            try:
                params = dict(parse_qsl(parts.query, keep_blank_values=True,
                                        max_num_fields=32))
                self._json(HTTPStatus.OK, ROUTES[path](params))
            except (BrokenPipeError, ConnectionResetError):  # the page went away: no answer
                return
            except ValueError as e:  # convzoo's own message: the argument, value and rule
                self._error(HTTPStatus.BAD_REQUEST, str(e))
            except Exception as e:  # noqa: BLE001 - one line back, never a stalled page
                self._error(HTTPStatus.INTERNAL_SERVER_ERROR,
                            f"internal error: {type(e).__name__}: {e}")
            return
        self._error(HTTPStatus.NOT_FOUND, f"no such page: {path[:200]!r}")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _not_allowed(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not supported: GET only")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815


def make_server(host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A bound (not yet serving) playground server; ``port=0`` picks a free port.

    Raises:
        ValueError: one line when the port is busy or the address cannot be used.
    """
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"`port` (={port!r}) must be an int from 0 to 65535")
    try:
        server = ThreadingHTTPServer((host, port), PlaygroundHandler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ValueError(f"`port` (={port}) is already in use on {host}; pick another with "
                             "--port") from None
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    server.daemon_threads = True
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    """``http://host:port/`` of a bound server (IPv6 hosts in brackets)."""
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in str(host) else host
    return f"http://{host}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
          out: Callable[[str], Any] = print, ready: threading.Event | None = None) -> int:
    """Run the playground until Ctrl-C; print its URL first. Returns 0 once stopped.

    Args:
        host: the address to listen on (default 127.0.0.1: this machine only).
        port: the port (default 8000; 0 picks a free one).
        open_browser: open the page in the default browser.
        out: where the URL and the stop message go. ready: set once serving (tests).
    """
    server = make_server(host, port)
    url = url_of(server)
    out(f"convzoo playground: {url} (Ctrl-C stops it)")
    if open_browser:  # a browser command ($BROWSER) may run until the browser closes: beside
        # the server, so the page is answered meanwhile and Ctrl-C stops it at any time
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    if ready is not None:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        out("stopped")
    finally:
        server.server_close()
    sys.stdout.flush()
    return 0
