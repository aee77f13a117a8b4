"""A reduced report, written once per test session (shared by the report and browser tests)."""

from __future__ import annotations

import pytest

from convzoo.viz.report import ReportConfig, report

#: The reduced report's variants: one per kind of numbers table (upsample compare, extra).
SMALL_VARIANTS = ("transposed", "depthwise", "wavenet")


@pytest.fixture(scope="session")
def small_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "small.html"
    steps: list[str] = []
    config = ReportConfig(variants=SMALL_VARIANTS, repeats=1, warmup=0, max_frames=6)
    result = report(path, config, progress=steps.append)
    return result, steps
