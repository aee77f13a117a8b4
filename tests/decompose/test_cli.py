"""``convzoo advise`` and ``convzoo decompose`` on a file.py:factory model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from convzoo.cli.main import main

MODEL = '''
import torch.nn as nn
def make():
    return nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))
'''


@pytest.fixture()
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    return f"{path}:make"


def test_advise_json(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--budget", "0.5", "--json",
                 "--repeats", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan_macs"] <= 0.5 * out["conv_macs"]
    assert out["layers"][1]["reason"] == "1x1 conv: no spatial extent to factor, left alone"
    assert {o["method"] for o in out["layers"][0]["options"]} >= {"dense", "tucker"}


def test_advise_table_fits_80_columns(model_file: str, capsys: pytest.CaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["advise", model_file, "--input", "1,4,8,8", "--repeats", "1"]) == 0
    text = capsys.readouterr().out
    table = text[:text.index("Conv MACs")]  # the footer lines are not wrapped when piped
    assert max(len(line) for line in table.splitlines()) <= 80


def test_advise_methods_subset(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--methods", "tucker,separable",
                 "--json", "--repeats", "0"]) == 0
    options = json.loads(capsys.readouterr().out)["layers"][0]["options"]
    assert {o["method"] for o in options} == {"dense", "tucker", "separable"}
    assert main(["advise", model_file, "--input", "1,4,8,8", "--methods", "svd"]) == 2
    assert "`method` (='svd') must be one of: separable" in capsys.readouterr().err


def test_decompose_saves_a_model(model_file: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new.pt"
    assert main(["decompose", model_file, "--input", "1,4,8,8", "--method", "separable",
                 "--repeats", "0", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output_error"] < 1e-5
    model = torch.load(out, weights_only=False)
    assert model(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)


def test_bad_budget_is_one_line(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--budget", "2"]) == 2
    assert capsys.readouterr().err == ("convzoo: error: `budget` (=2.0) must be a number in "
                                       "(0, 1] (the fraction of the model's conv MACs, or "
                                       "latency, kept)\n")


def test_train_init_starts_from_a_saved_module(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(4, 10))
    path = tmp_path / "start.pt"
    torch.save(net, path)
    assert main(["train", "start", "--data", "digits", "--init", str(path), "--epochs", "1",
                 "--limit", "16", "--batch-size", "8", "--no-progress", "--json",
                 "--threads", "1"]) == 0
    assert "test_accuracy" in json.loads(capsys.readouterr().out)["final"]


def test_train_init_missing_file(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "x", "--data", "digits", "--init", "nowhere.pt"]) == 2
    assert capsys.readouterr().err == ("convzoo: error: `--init` (='nowhere.pt') must be a "
                                       "file holding a saved nn.Module\n")
