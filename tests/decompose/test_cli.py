"""``convzoo advise`` and ``convzoo decompose`` on a file.py:factory model: output, the 80-column
table, one-line errors (wrong input, output folder, repeats), Ctrl-C and ``--partial``."""

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
ONE_BY_ONE = "1x1 conv: no spatial extent to factor (method 'svd' splits it into two 1x1 convs)"


@pytest.fixture()
def model_file(tmp_path: Path) -> str:
    path = tmp_path / "net.py"
    path.write_text(MODEL)
    return f"{path}:make"


def test_advise_json(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--budget", "0.5", "--json",
                 "--repeats", "0", "--methods", "tucker,separable"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["plan_macs"] <= 0.5 * out["conv_macs"]
    assert out["layers"][1]["reason"] == ONE_BY_ONE
    assert {o["method"] for o in out["layers"][0]["options"]} >= {"dense", "tucker"}
    assert out["layers"][0]["sensitivity"] is not None
    assert captured.err == ""  # not a terminal: no progress bars


def test_advise_table_fits_80_columns_and_keeps_reasons(model_file: str,
                                                        capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["advise", model_file, "--input", "1,4,8,8", "--repeats", "1", "--methods",
                 "tucker,cp"]) == 0
    text = capsys.readouterr().out
    table = text[:text.index("Conv MACs")]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert ONE_BY_ONE in " ".join(table.split())  # wrapped at words, never cut


def test_advise_methods_subset(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--methods", "tucker,svd",
                 "--json", "--repeats", "0"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert {o["method"] for o in layers[0]["options"]} <= {"dense", "tucker", "svd"}
    assert {o["method"] for o in layers[1]["options"]} <= {"dense", "svd"}  # 1x1 by svd
    assert main(["advise", model_file, "--input", "1,4,8,8", "--methods", "lowrank"]) == 2
    assert "`method` (='lowrank') must be one of: separable" in capsys.readouterr().err


def test_decompose_saves_a_model(model_file: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new.pt"
    # rank 3 of the 8->4 1x1 conv costs more MACs than the conv: warned, never silent
    with pytest.warns(UserWarning, match=r"1 replacement\(s\) cost more MACs than the conv "
                      r"they replace \(2\)"):
        assert main(["decompose", model_file, "--input", "1,4,8,8", "--method", "svd",
                     "--rank", "3", "--repeats", "0", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in report["layers"]] == ["decomposed", "decomposed"]
    assert [bool(r["warning"]) for r in report["layers"]] == [False, True]
    model = torch.load(out, weights_only=False)
    assert model(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)


def test_out_into_a_missing_folder_is_refused_before_work(
        model_file: str, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_args: object) -> None:
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr("convzoo.cli.decompose.load_model", never)
    target = tmp_path / "missing" / "new.pt"
    assert main(["decompose", model_file, "--input", "1,4,8,8", "--method", "svd",
                 "--out", str(target)]) == 2
    assert capsys.readouterr().err == (f"convzoo: error: `--out` (='{target}') cannot be "
                                       f"written: folder '{target.parent}' does not exist\n")


def test_wrong_input_channels_is_one_line(model_file: str,
                                          capsys: pytest.CaptureFixture) -> None:
    for command in (["advise"], ["decompose", "--method", "tucker", "--rank", "2"]):
        assert main([command[0], model_file, "--input", "1,3,8,8", *command[1:]]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("convzoo: error: `example_input` (shape (1, 3, 8, 8)) does not "
                              "run through `model` (Sequential): ")
        assert "channel" in err


NO_CONV = """
import torch.nn as nn
def make():
    return nn.Sequential(nn.Flatten(), nn.Linear(48, 4))
"""


@pytest.mark.parametrize("command", [["advise"], ["decompose", "--method", "svd", "--rank", "2"],
                                     ["decompose", "--method", "auto", "--budget", "0.5"]])
def test_model_without_convs_is_one_line(tmp_path: Path, command: list[str],
                                         capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "lin.py").write_text(NO_CONV)
    assert main([command[0], f"{tmp_path / 'lin.py'}:make", "--input", "1,3,4,4",
                 "--repeats", "0", *command[1:]]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("convzoo: error: `model` (=Sequential) has no convolution to "
                            "decompose: no torch.nn.Conv1d/2d/3d or convzoo conv module in it\n")


def test_energy_dearer_than_dense_is_flagged(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "one.py").write_text("import torch.nn as nn\ndef make():\n"
                                     "    return nn.Sequential(nn.Conv2d(6, 8, 3, padding=1))\n")
    with pytest.warns(UserWarning, match="cost more MACs than the conv they replace"):
        assert main(["decompose", f"{tmp_path / 'one.py'}:make", "--input", "1,6,8,8",
                     "--method", "tucker", "--energy", "0.999", "--repeats", "0"]) == 0
    out = capsys.readouterr().out
    assert "Warning 0: tucker rank 8x6 costs 1.23x the conv's MACs (34,048 vs 27,648)" in out


@pytest.mark.parametrize("command", [["advise"], ["decompose", "--method", "svd"]])
def test_negative_repeats_refused(model_file: str, command: list[str],
                                  capsys: pytest.CaptureFixture) -> None:
    assert main([command[0], model_file, "--input", "1,4,8,8", "--repeats", "-1",
                 *command[1:]]) == 2
    assert capsys.readouterr().err == "convzoo: error: `--repeats` (=-1) must be an int >= 0\n"


def test_factory_imports_a_module_beside_it(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "blocks_beside.py").write_text(
        "import torch.nn as nn\n"
        "def block():\n    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1))\n")
    (tmp_path / "lazy.py").write_text("def make():\n    import blocks_beside\n"
                                      "    return blocks_beside.block()\n")
    assert main(["advise", f"{tmp_path / 'lazy.py'}:make", "--input", "1,2,6,6", "--json",
                 "--repeats", "0", "--methods", "svd"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"][0]["name"] == "0"


def test_bad_budget_is_one_line(model_file: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["advise", model_file, "--input", "1,4,8,8", "--budget", "2"]) == 2
    assert capsys.readouterr().err == ("convzoo: error: `budget` (=2.0) must be a number in "
                                       "(0, 1] (the fraction of the model's conv MACs, or "
                                       "latency, kept)\n")


def _interrupting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric that presses Ctrl-C: advise stops while measuring sensitivity."""
    import convzoo.decomposition as package

    real = package.advise

    def advise(*args: object, **kwargs: object) -> object:
        def metric(new: object, dense: object) -> float:
            raise KeyboardInterrupt
        return real(*args, **{**kwargs, "metric": metric})

    monkeypatch.setattr(package, "advise", advise)


def test_ctrl_c_is_one_line(model_file: str, capsys: pytest.CaptureFixture,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupting(monkeypatch)
    assert main(["advise", model_file, "--input", "1,4,8,8", "--json"]) == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("convzoo: interrupted while measuring sensitivity (--partial "
                            "prints what was done)\n")


def test_ctrl_c_partial_json(model_file: str, capsys: pytest.CaptureFixture,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    _interrupting(monkeypatch)
    assert main(["advise", model_file, "--input", "1,4,8,8", "--json", "--partial"]) == 130
    captured = capsys.readouterr()
    partial = json.loads(captured.out)
    assert partial["interrupted"] == "measuring sensitivity"
    assert [layer["name"] for layer in partial["layers"]] == ["0", "2"]
    assert captured.err == "convzoo: interrupted while measuring sensitivity; partial JSON " \
                           "printed\n"


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


def test_decompose_ctrl_c_is_one_line(model_file: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import convzoo.decomposition as package

    def decompose(*_args: object, **_kwargs: object) -> None:
        raise package.Interrupted("factorizing")

    monkeypatch.setattr(package, "decompose", decompose)
    out = tmp_path / "new.pt"
    assert main(["decompose", model_file, "--input", "1,4,8,8", "--method", "svd", "--out",
                 str(out)]) == 130
    assert capsys.readouterr().err == "convzoo: interrupted while factorizing; nothing written\n"
    assert not out.exists()


def test_quiet_and_data_options(model_file: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "batches.pt"
    torch.save([torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)], data)
    assert main(["advise", model_file, "--input", "1,4,8,8", "--data", str(data), "--quiet",
                 "--json", "--repeats", "0", "--methods", "svd,tucker"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["plan_macs"] > 0
    assert main(["advise", model_file, "--input", "1,4,8,8", "--data", str(tmp_path / "no.pt")
                 ]) == 2
    assert "`--data` (=" in capsys.readouterr().err
