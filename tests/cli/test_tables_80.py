"""summary, compare and profile fit 80 columns without cutting a number (compact counts such as
4.09 G), as torchinfo's tables do; ``--wide`` prints every digit. Rendered with rich at width
80: no line is longer, no cell ends in rich's ellipsis, every number the narrow table shows is
the compact form of the exact count, no layer name is broken across lines, no word of a text
cell is broken, and the footer is wrapped at word boundaries to the width (80 when piped)."""

from __future__ import annotations

import io
import re

import pytest
import torch
import torch.nn as nn
from rich.console import Console

import convzoo
from convzoo.analysis.table import Column, TableSpec, compact, fit_widths, wrap
from convzoo.cli.main import main
from convzoo.models import create


def rendered(result, wide=False, width=80) -> list[str]:
    buf = io.StringIO()
    result.render(Console(file=buf, width=width, force_terminal=False, color_system=None),
                  wide=wide)
    return buf.getvalue().splitlines()


def check_fits(lines: list[str]) -> None:
    assert max(map(len, lines)) <= 80, max(lines, key=len)
    assert not any("…" in line for line in lines)


@pytest.fixture(scope="module")
def resnet50_summary():
    with torch.device("meta"):
        model = create("resnet50")
    return convzoo.summary(model, (1, 3, 224, 224))


def numbers_intact(result, lines: list[str], first_number_column: int) -> None:
    """Every row's number cells (from the table spec) appear whole, in order, on one line."""
    text = "\n".join(lines)
    for spec in result.table_specs():
        for row in spec.rows:
            cells = [re.escape(c) for c in row[first_number_column:]]
            assert re.search(r"[ \t]+".join(cells), text), row


def test_summary_of_resnet50_fits_80_columns_with_every_count(resnet50_summary):
    s = resnet50_summary
    lines = rendered(s)
    check_fits(lines)
    (spec,) = s.table_specs()
    assert [c.header for c in spec.columns] == ["Layer", "Kind", "Output", "Params", "MACs",
                                                "Out B", "RF", "S"]
    for r, row in zip(s.rows, spec.rows, strict=True):  # compact forms of the exact counts
        assert row[3:6] == (compact(r.params), compact(r.macs), compact(r.output_bytes))
    assert spec.rows[0][2:] == ("1x64x112x112", "9,408", "118 M", "3.21 M", "7", "2")
    numbers_intact(s, lines, 2)
    assert f"MACs: {s.totals.macs:,}" in "\n".join(lines)  # the totals keep every digit
    words = {w for line in lines for w in line.split()}
    assert {r.name for r in s.rows} <= words  # every name whole, on one line
    assert "layer1.0.downsample.0" in words and "layer4.0.downsample.1" in words
    at = next(i for i, line in enumerate(lines) if line.strip() == "layer1.0.downsample.0")
    assert lines[at + 1].split() == ["pointwise", "1x256x56x56", "16.4", "k", "51.4", "M",
                                     "3.21", "M", "11", "4"]  # its values: the next line


def test_a_table_too_narrow_for_its_names_and_words_never_breaks_them():
    spec = TableSpec("t", (Column("Layer", "left", name=True),
                           Column("Kind", "left", text=True), Column("MACs")),
                     [("features.denseblock1.denselayer1.conv1", "depthwise separable conv",
                       "51.4 M"), ("fc", "linear", "2.05 M")])

    class Result(convzoo.analysis.table.Rendered):
        def table_specs(self, wide=False):
            return [spec]

        def footer(self):
            return "Convention: " + " ".join(["word"] * 40) + " receptive_field(...).span(u)"

    for width in (80, 40, 30, 20):
        lines = rendered(Result(), width=width)
        words = [w for line in lines for w in line.split()]
        for cell in ("features.denseblock1.denselayer1.conv1", "depthwise", "separable",
                     "conv", "51.4", "2.05", "receptive_field(...).span(u)"):
            assert cell in words, (width, cell, lines)
        assert "…" not in "\n".join(lines)
        if width >= 30:  # it fits (at 20 it cannot: printed at its narrowest)
            assert all(len(line) <= width or len(line.split()) == 1 for line in lines), lines
    assert fit_widths(spec, 80) is None and fit_widths(spec, 40) == [21, 9, 6]
    assert wrap("a " * 50, 20).count("\n") == 5 and wrap("", 20) == ""


def test_summary_wide_has_every_digit(resnet50_summary):
    lines = rendered(resnet50_summary, wide=True)
    text = "\n".join(lines)
    assert "118,013,952" in text and "BatchNorm2d" in text and "…" not in text
    assert max(map(len, lines[:3])) > 80  # at its natural width, past the console's


def test_compare_fits_80_columns():
    c = convzoo.compare(64, 128, 3, (56, 56), groups=(2, 4), repeats=3, warmup=0)
    lines = rendered(c)
    check_fits(lines)
    numbers_intact(c, lines, 1)
    text = "\n".join(lines)
    assert "231 M (1.00x)" in text and "latency" in text and "±" in text
    assert re.search(r"\d\.\d\dx~?\)", text)


def test_profile_fits_80_columns():
    net = nn.Sequential(convzoo.layers.Conv2d(3, 64, 3, padding=1),
                        convzoo.layers.DepthwiseSeparable(64, 128, 3, padding=1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))
    p = convzoo.profile(net, (1, 3, 32, 32), repeats=3, warmup=0)
    lines = rendered(p)
    check_fits(lines)
    numbers_intact(p, lines, 2)
    assert any("±" in line for line in lines)


@pytest.mark.parametrize("argv", [
    ["summary", "mobilenet_v2", "--input", "1,3,224,224"],
    ["compare", "--in", "32", "--out", "64", "-k", "3", "--input", "16x16", "--no-measure"],
], ids=["summary", "compare"])
def test_cli_tables_fit_80_columns(capsys, monkeypatch, argv):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(argv) == 0  # piped: rich's default width, 80
    lines = capsys.readouterr().out.splitlines()
    check_fits(lines)  # the tables and the footer (its conventions wrapped at words)
    assert sum(line.startswith("Convention: ") for line in lines) >= 3
    assert main([*argv, "--wide"]) == 0
    assert "…" not in capsys.readouterr().out


def test_rf_prose_is_wrapped_to_80_columns_when_piped(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert main(["rf", "resnet50", "--input", "1,3,224,224"]) == 0
    lines = capsys.readouterr().out.splitlines()
    check_fits(lines)
    text = " ".join(line.strip() for line in lines)
    assert "* the whole input: every output position sees it (a norm over space, softmax or " \
           "attention over positions, global pooling, a flatten into a linear layer, an op not " \
           "recognized)" in text  # whole, words intact
