"""`convzoo bench` and the benchmark helpers (plumbing only: no timing is asserted)."""

from __future__ import annotations

import json

import pytest
import torch

from convzoo.cli.main import SUBCOMMANDS, main
from convzoo.fast.bench import layer_cases
from convzoo.fast.roofline import Roofline, count_flops
from convzoo.layers import REGISTRY, Depthwise


def test_bench_is_a_subcommand() -> None:
    assert "bench" in SUBCOMMANDS


def test_layer_cases_cover_the_registry() -> None:
    names = [name for name, _, _ in layer_cases()]
    for kind in REGISTRY:
        assert any(n.startswith(f"{kind} (") for n in names), kind


def test_bench_layers_json(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    out = tmp_path / "rows.json"
    code = main(["bench", "layers", "--only", "depthwise (8, 2, 28)", "--repeats", "3", "--json",
                 "--out", str(out)])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == ["depthwise (8, 2, 28)"]
    row = rows[0]
    assert row["fwd_ratio"] > 0 and 0 < row["fwd_roofline_fraction"]
    assert json.loads(out.read_text()) == rows


def test_bench_rejects_bad_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "layers", "--repeats", "1"]) == 2
    assert "`--repeats` (=1) must be an int >= 3" in capsys.readouterr().err


def test_roofline_and_flops() -> None:
    assert Roofline(2e9, 1e9).time(2e9, 4e9) == 4.0
    # depthwise: N*C*H_out*W_out*k*k MACs, 2 FLOPs each
    assert count_flops(Depthwise(4, 3, bias=False), torch.randn(2, 4, 6, 6)) == 2 * 2 * 4 * 16 * 9
