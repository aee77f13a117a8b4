"""convzoo summary / rf / compare / profile: text, JSON, CSV, MODEL resolution, errors."""

import json

import pytest

from convzoo.cli.main import main
from convzoo.cli.models import FORMS

NET = '''
import torch.nn as nn


def make():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=2),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
    )


def broken():
    raise RuntimeError("no weights here")


def not_a_model():
    return 42
'''


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return str(path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_text_json_csv(capsys, net):
    code, out, _ = run(capsys, "summary", f"{net}:make", "--input", "1,3,16,16", "--json")
    data = json.loads(out)
    assert data["totals"]["macs"] == 13824 + 18432 + 32768
    assert [r["kind"] for r in data["rows"]] == ["conv", "activation", "group",
                                                 "transposed"]
    # transposed conv: N*C_in*prod(in)*(C_out/g)*prod(k), not prod(stride) times more
    assert data["rows"][3]["macs"] == 8 * 8 * 8 * 4 * 16
    assert data["totals"]["params"] == 224 + 296 + 516
    code, out, _ = run(capsys, "summary", f"{net}:make", "--input", "1,3,16,16", "--csv",
                       "--depth", "1")
    lines = out.splitlines()
    assert lines[0].startswith("name,type,kind") and len(lines) == 5
    code, out, _ = run(capsys, "summary", f"{net}:make", "--input", "1,3,16,16")
    assert code == 0 and "MACs: 65,024" in out and "\x1b" not in out  # plain when piped


def test_rf_text_json_layer_empirical(capsys, net):
    code, out, _ = run(capsys, "rf", f"{net}:make", "--input", "1,3,16,16", "--json")
    axes = json.loads(out)["axes"]
    assert code == 0 and len(axes) == 2 and axes[0]["r"] == 10 and axes[0]["S"] == 1
    code, out, _ = run(capsys, "rf", f"{net}:make", "--input", "1,3,16,16", "--layer", "0",
                       "--json")
    data = json.loads(out)
    assert data["layer"] == "0" and data["axes"][0] == {
        "r": 3, "S": 2, "P": 1, "center": 0, "global": False}
    code, out, _ = run(capsys, "rf", f"{net}:make", "--input", "1,3,16,16", "--layer", "0",
                       "--empirical")
    assert code == 0 and "effective r" in out and "Luo et al." in out


def test_compare_counts_and_measured(capsys):
    code, out, _ = run(capsys, "compare", "--in", "8", "--out", "16", "-k", "3", "--input",
                       "8x8", "--no-measure", "--json")
    data = json.loads(out)
    assert code == 0 and data["measured"] is False and data["baseline"] == "conv"
    rows = {v["name"]: v for v in data["variants"]}
    assert rows["conv"]["macs"] == 16 * 64 * 8 * 9
    assert rows["conv"]["ratios"]["macs"] == 1
    assert [v["kind"] for v in data["variants"]] == [
        "conv", "group", "group", "shuffle_group", "shuffle_group", "separable", "flattened",
        "spatially_separable", "dilated"]
    assert not any("family" in v for v in data["variants"])  # one word: the kind
    assert rows["separable"]["macs"] == 8 * 64 * 9 + 16 * 64 * 8
    assert rows["dilated d=2"]["rf"] == [5, 5]
    code, out, _ = run(capsys, "compare", "--in", "4", "--out", "4", "-k", "3", "--input",
                       "6x6", "--groups", "2", "--repeats", "1", "--json")
    data = json.loads(out)
    assert code == 0 and data["measured"] is True and data["repeats"] == 1
    assert all(v["forward_ms"] > 0 and v["forward_backward_ms"] > 0 for v in data["variants"])
    assert data["variants"][0]["ratios"]["forward"] == 1.0
    code, out, _ = run(capsys, "compare", "--in", "4", "--out", "4", "-k", "3", "--input",
                       "6x6", "--groups", "2", "--repeats", "1")
    assert code == 0 and "Fwd" in out and "shuffle_group g=2" in out and "interleaved" in out
    code, out, _ = run(capsys, "compare", "--in", "4", "--out", "2", "-k", "4", "--input", "5",
                       "--upscale-factor", "2", "--no-measure", "--json")
    data = json.loads(out)
    assert [v["name"] for v in data["variants"]] == ["transposed", "subpixel", "resize_conv"]
    assert {tuple(v["output_shape"]) for v in data["variants"]} == {(1, 2, 10, 10)}


def test_profile_text_and_json(capsys, net):
    code, out, _ = run(capsys, "profile", f"{net}:make", "--input", "1,3,16,16", "--repeats",
                       "1", "--json")
    data = json.loads(out)
    assert code == 0 and data["backward_ms"] is None
    assert [r["name"] for r in data["rows"]] == ["0", "1", "2", "3"]
    assert sum(data["by_kind"].values()) == pytest.approx(data["total_ms"])
    code, out, _ = run(capsys, "profile", f"{net}:make", "--input", "1,3,16,16", "--repeats",
                       "1", "--backward")
    assert code == 0 and "time by kind" in out and "backward" in out


@pytest.mark.parametrize("model, why", [
    ("resnet18", "is not a zoo model: ValueError: `name` (='resnet18') is not a zoo model; "
                 "did you mean 'resnet50'? Valid: "),
    ("missing.py:make", "names a file that does not exist: missing.py"),
    ("net.txt:make", "must name a .py file before the ':'"),
    ("{net}", "needs ':factory' after the file name"),
    ("{net}:nope", "has no function 'nope' in {net}"),
    ("{net}:make-it", "has a factory name that is not a Python identifier: 'make-it'"),
    ("{net}:broken", "factory broken() failed: RuntimeError: no weights here"),
    ("{net}:not_a_model", "factory not_a_model() returned int, not an nn.Module"),
])
def test_bad_model_strings(capsys, net, model, why):
    model, why = model.format(net=net), why.format(net=net)
    code, out, err = run(capsys, "summary", model, "--input", "1,3,8,8")
    assert code == 2 and out == ""
    head = f"convzoo: error: MODEL (={model!r}) {why}"
    tail = f"; accepted forms: {FORMS}\n"
    if model == "resnet18":  # the zoo lists its models between the two
        assert err.startswith(head) and err.endswith(tail) and "resnet50" in err
    else:
        assert err == head + tail


def test_bad_input_and_import_error(capsys, net, tmp_path):
    code, _, err = run(capsys, "rf", f"{net}:make", "--input", "1,3,a")
    assert code == 2 and err.startswith("convzoo: error: `--input` (='1,3,a') must be")
    bad = tmp_path / "bad.py"
    bad.write_text("import not_a_module_anywhere\n")
    code, _, err = run(capsys, "profile", f"{bad}:make", "--input", "1,3,8,8")
    assert code == 2 and err.count("\n") == 1
    assert "failed to import: ModuleNotFoundError: No module named" in err
    code, _, err = run(capsys, "compare", "--in", "4", "--out", "4", "-k", "3", "--input", "8",
                       "--upscale-factor", "2", "--stride", "2", "--no-measure")
    assert code == 2 and "`stride` (=2) must be 1 with `upscale_factor` (=2)" in err


def test_compare_and_animate_take_the_whole_shape_too(capsys, tmp_path):
    """``--input`` means what it means for summary and shape (N,C,*spatial) as well as the
    spatial size alone (56x56): the counts agree, and a C other than --in is refused."""
    base = ["compare", "--in", "8", "--out", "16", "-k", "3", "--no-measure", "--json"]
    _, spatial, _ = run(capsys, *base, "--input", "8x8", "--batch", "2")
    _, whole, _ = run(capsys, *base, "--input", "2,8,8,8")
    assert json.loads(spatial)["variants"] == json.loads(whole)["variants"]
    assert json.loads(whole)["variants"][0]["macs"] == 2 * 16 * 64 * 8 * 9
    code, _, err = run(capsys, *base, "--input", "1,3,8,8")
    assert code == 2 and "`--input` (='1,3,8,8') has C=3 where `--in` is 8" in err
    code, _, err = run(capsys, *base, "--input", "1,8,8,8", "--batch", "4")
    assert code == 2 and "`--batch` (=4) differs from N (=1) in `--input`" in err
    gif = str(tmp_path / "a.gif")
    assert run(capsys, "animate", "conv", "--input", "1,2,4,4", "-o", gif)[0] == 0
    code, _, err = run(capsys, "animate", "conv", "--input", "2,1,4,4", "-o", gif)
    assert code == 2 and "must have N=1: an animation draws one sample" in err


@pytest.mark.parametrize("command", ["summary", "rf"])
def test_wrong_input_exits_2_with_one_line_unless_partial(capsys, net, command):
    code, out, err = run(capsys, command, f"{net}:make", "--input", "1,4,32,32")
    assert code == 2 and not out
    assert "layer '0' (Conv2d), which expects input (N, 3, 2 spatial dims), given " \
        "(1, 4, 32, 32)" in err and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, command, f"{net}:make", "--input", "1,4,32,32", "--partial")
    assert code == 0 and "PARTIAL" in out
