"""convzoo optimize: MODEL from a torch.save file (weights_only made explicit), a factory or
the zoo; the report table at 80 columns with every candidate's timing; --out; errors."""

import json

import pytest
import torch
import torch.nn as nn

from convzoo.cli.main import main
from convzoo.cli.models import FORMS

NET = '''
import torch.nn as nn


def make():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 4, 1)).eval()
'''


@pytest.fixture
def saved(tmp_path):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1)).eval()
    path = tmp_path / "net.pt"
    torch.save(net, path)
    weights = tmp_path / "weights.pt"
    torch.save(net.state_dict(), weights)
    return str(path), str(weights)


def test_a_pickled_module_needs_the_explicit_flag(saved, capsys) -> None:
    module, weights = saved
    assert main(["optimize", module, "--input", "1,3,12,12"]) == 2
    err = capsys.readouterr().err
    assert err == (f"convzoo: error: MODEL (={module!r}) is a pickled module: torch.load("
                   "weights_only=True) refuses to unpickle it, since unpickling runs code stored "
                   "in the file; if you trust the file, `--no-weights-only` (convzoo optimize, "
                   f"decompose, advise) loads it (weights_only=False); accepted forms: {FORMS}\n")
    assert main(["optimize", weights, "--input", "1,3,12,12", "--no-weights-only"]) == 2
    assert "holds a dict (a state_dict or a checkpoint), not a module" in \
        capsys.readouterr().err


def test_report_and_candidates_fit_80_columns(saved, capsys) -> None:
    module, _ = saved
    assert main(["optimize", module, "--input", "2,3,12,12", "--no-weights-only"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0] == "convzoo.optimize"
    assert any(line.startswith("backend ") and "torch (fp32)" in line for line in lines)
    assert "candidates: ms per call (interleaved blocks)" in out
    assert sum(line.startswith("torch@") for line in lines) >= 1
    assert any(line.startswith("decision: ") for line in lines)


def test_factory_json_and_out(tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "net.py").write_text(NET)
    out = tmp_path / "net.onnx"
    code = main(["optimize", f"{tmp_path / 'net.py'}:make", "--input", "1,3,8,8", "--json",
                 "--out", str(out)])
    assert code == 0 and out.exists()
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == "torch" and data["folded_batchnorms"] == 1
    assert data["out"] == str(out)
    assert set(data["candidates_ms"]) >= {"torch@1"} and data["threads"]["threads"] >= 1


def test_bad_options_are_usage_errors(saved, capsys) -> None:
    module, _ = saved
    assert main(["optimize", module, "--input", "1,3,8,8", "--backend", "tensorrt"]) == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    assert main(["optimize", module, "--input", "1,3,8,8", "--no-weights-only", "--out",
                 "net.pt"]) == 2
    assert "`path` (='net.pt') must end in one of: .onnx (ONNX)" in capsys.readouterr().err


def test_help_says_what_weights_only_means(capsys) -> None:
    assert main(["optimize", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "torch.load(weights_only=False)" in text and "use only for files you trust" in text
