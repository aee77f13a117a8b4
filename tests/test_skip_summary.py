"""The run's summary says which tests were skipped, why, and how to run them (tests/conftest.py):
a newcomer whose machine lacks Chromium sees the browser tests named, with the command that
installs it, instead of a bare "N skipped"."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


def _report(nodeid: str, reason: str, when: str = "setup") -> SimpleNamespace:
    return SimpleNamespace(nodeid=nodeid, when=when,
                           longrepr=(nodeid.split("::")[0], 1, f"Skipped: {reason}"))


def summary_hook(request):
    """The hook of tests/conftest.py (conftests are plugins registered under their path)."""
    plugin = request.config.pluginmanager.get_plugin(str(Path(__file__).with_name("conftest.py")))
    return plugin.pytest_terminal_summary


class Reporter:
    def __init__(self, skipped):
        self.stats = {"skipped": skipped} if skipped is not None else {}
        self.lines: list[str] = []

    def section(self, title):
        self.lines.append(f"== {title} ==")

    def write_line(self, line):
        self.lines.append(line)


def test_skipped_browser_tests_are_named_with_how_to_get_them(request):
    hook = summary_hook(request)
    chromium = ("headless Chromium is not installed (/usr/bin/chromium and /usr/bin/chromedriver;"
                " `apt-get install chromium chromium-driver`)")
    reporter = Reporter([
        _report("tests/serve/test_playground_browser.py::test_a", chromium),
        _report("tests/serve/test_playground_browser.py::test_b", chromium),
        _report("tests/viz/test_browser.py::test_c", chromium),
        _report("tests/viz/test_animate.py::test_mp4_with_ffmpeg", "needs ffmpeg"),
        _report("tests/layers/test_all_export.py::test_x", "could not import 'onnxruntime'"),
    ])
    hook(reporter, 0, None)
    text = "\n".join(reporter.lines)
    assert reporter.lines[0] == "== skipped tests, and how to run them =="
    assert reporter.lines[1] == ("3 skipped in tests/serve/test_playground_browser.py, "
                                 f"tests/viz/test_browser.py: {chromium}")
    assert "sudo apt-get install chromium chromium-driver" in reporter.lines[2]
    assert "1 skipped in tests/viz/test_animate.py: needs ffmpeg" in text
    assert "apt-get install ffmpeg" in text and "pip install -e '.[dev]'" in text


def test_nothing_is_printed_when_nothing_was_skipped(request):
    hook = summary_hook(request)
    for skipped in (None, []):
        reporter = Reporter(skipped)
        hook(reporter, 0, None)
        assert reporter.lines == []
