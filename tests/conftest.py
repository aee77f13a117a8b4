"""Test-suite set-up: the project's own hypothesis profile.

``torch.testing._internal.common_methods_invocations`` (PyTorch's op_db, used for its conv
sample inputs) registers and loads a hypothesis profile when imported, so it is imported
first and our profile is loaded after it.
"""

import logging
import os

import pytest
import torch.testing._internal.common_methods_invocations  # noqa: F401  (see docstring)
from hypothesis import HealthCheck, settings

settings.register_profile(
    "convzoo",
    deadline=None,
    max_examples=100,
    derandomize=bool(os.environ.get("CI")),  # CI replays the same examples every run
    suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
    ],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "convzoo"))


@pytest.fixture
def quiet_onnx():
    """The ONNX exporters log progress lines: silenced for the test, restored after. (Their
    warnings are filtered one by one, by message, in pyproject.toml; no other is hidden.)"""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


#: How to get the tests a missing tool or package skips, by a word of the skip reason.
HOW_TO_RUN = {
    "Chromium": "the browser tests need headless Chromium and its driver: "
                "`sudo apt-get install chromium chromium-driver` (Debian/Ubuntu; they are "
                "looked for at /usr/bin/chromium and /usr/bin/chromedriver)",
    "selenium": "`.venv/bin/python -m pip install selenium` (in the dev extras)",
    "ffmpeg": "`sudo apt-get install ffmpeg` (the .mp4 writer)",
    "could not import": "`make test` installs the dev extras (`pip install -e '.[dev]'`)",
}


def _reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say which tests were skipped, why, and how to run them (a newcomer's `make test`
    otherwise only prints "N skipped")."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.when in ("setup", "call")]
    if not skipped:
        return
    by_reason: dict[str, list[str]] = {}
    for report in skipped:
        module = report.nodeid.split("::")[0]
        by_reason.setdefault(_reason(report), []).append(module)
    terminalreporter.section("skipped tests, and how to run them")
    for reason, modules in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        files = sorted(set(modules))
        terminalreporter.write_line(f"{len(modules)} skipped in {', '.join(files)}: {reason}")
        for word, how in HOW_TO_RUN.items():
            if word in reason:
                terminalreporter.write_line(f"    to run them: {how}")
