"""The playground over plain HTTP: its own assets only, JSON errors in one line, the size
guard answering at once, a busy port and Ctrl-C from the command line."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from convzoo.cli.main import main
from convzoo.serve import make_server

#: A reference to anything not on this server: a URL in src/href/url()/fetch/import.
OUTSIDE = re.compile(rb"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|"""
                     rb"""fetch\(\s*["'](https?:)?//|import\s*\(?\s*["'](https?:)?//""")


def get(url: str, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=20)
    conn.request(method, path)  # the path is sent exactly as written (no normalization)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, dict(r.getheaders()), body


def test_page_and_assets_are_served_from_the_package(server):
    status, headers, body = get(server, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"<title>convzoo playground</title>" in body
    assert not OUTSIDE.search(body)  # offline: no CDN, nothing fetched from elsewhere
    for name, kind in [("player.js", "text/javascript"), ("playground.js", "text/javascript"),
                       ("playground.css", "text/css")]:
        status, headers, body = get(server, f"/static/{name}")
        assert status == 200 and headers["Content-Type"].startswith(kind) and body
        assert not OUTSIDE.search(body)


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd", "/static/..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/etc/passwd", "//etc/passwd", "/../convzoo/serve/app.py",
    "/static/player.js/../../app.py", "/static/", "/static/app.py", "/api/../static/index.html",
    "/etc/passwd", "/static/index.html%00.js", "/static\\..\\app.py",
])
def test_nothing_outside_the_assets(server, path):
    status, headers, body = get(server, path)
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"].startswith("no such page: ")
    assert b"root:" not in body and b"import" not in body


def test_api_errors_are_one_line_json_and_quick(server):
    for path in ("/api/conv?input=1000000x1000000", "/api/conv?frames=100000",
                 "/api/conv?kind=nope", "/api/stack?layers=1"):
        status, _, body = get(server, path)
        error = json.loads(body)["error"]
        assert status == 400 and "\n" not in error and error
    status, _, body = get(server, "/api/conv?input=" + "9" * 5000)
    assert status == 414 and "longer than the limit of 2000" in json.loads(body)["error"]
    status, _, body = get(server, "/api/conv", method="POST")
    assert status == 405 and json.loads(body)["error"] == "POST is not supported: GET only"


def test_api_answers(server):
    status, _, body = get(server, "/api/conv?kind=grouped&input=3x3&in=4&out=4&g=2")
    r = json.loads(body)
    assert status == 200 and r["kind"] == "group" and r["frames"] == 36
    status, _, body = get(server, "/api/kinds")
    assert status == 200 and "r2plus1d" in json.loads(body)["kinds"]
    status, _, body = get(server, "/api/choices?kind=grouped&in=6&out=4")
    assert status == 200 and json.loads(body)["choices"]["g"] == ["1", "2"]


def test_busy_port_is_one_line(server, capsys):
    port = urlsplit(server).port
    with pytest.raises(ValueError, match=rf"^`port` \(={port}\) is already in use on "
                                         r"127\.0\.0\.1; pick another with --port$"):
        make_server("127.0.0.1", port)
    assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == (f"convzoo: error: `port` (={port}) is already in use on 127.0.0.1; pick "
                   "another with --port\n")


def test_cli_prints_its_url_opens_it_and_stops_cleanly_on_ctrl_c(tmp_path):
    """--open hands the URL to the browser ($BROWSER stands in for it: a command that, like a
    browser, keeps running); the page is served meanwhile and Ctrl-C stops the server."""
    opened = tmp_path / "opened.txt"
    browser = (f"{sys.executable} -c \"import os, sys, time; os.close(1); os.close(2); "
               "open(sys.argv[2], 'w').write(sys.argv[1] + ' ' + str(os.getpid())); "
               "time.sleep(120)\"")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BROWSER": f"{browser} %s {opened}"}
    # Ctrl-C as from a terminal: an xdist worker ignores SIGINT, and a child would inherit
    # that (Python keeps an ignored SIGINT ignored), so the server starts with the default
    proc = subprocess.Popen([sys.executable, "-m", "convzoo", "serve", "--port", "0", "--open"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pid = None
    try:
        line = proc.stdout.readline()
        assert line.startswith("convzoo playground: http://127.0.0.1:")
        url = line.split()[2]
        for _ in range(300):  # --open: the browser was given the URL
            if opened.exists() and len(opened.read_text().split()) == 2:
                break
            time.sleep(0.1)
        given, pid = opened.read_text().split()
        assert given == url
        assert get(url, "/")[0] == 200  # answered while the browser command still runs
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid is not None:
            try:
                os.kill(int(pid), signal.SIGTERM)  # the stand-in browser, started by this test
            except ProcessLookupError:
                pass
    assert proc.returncode == 0 and out == "stopped\n" and err == ""


def test_pyproject_ships_every_asset_as_package_data():
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    from convzoo.serve.app import ASSETS

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]
    for package, path, _ in ASSETS.values():
        assert any(fnmatch(path, pattern) for pattern in data[package]), (package, path)
        assert (root / "src" / Path(*package.split(".")) / path).is_file()
