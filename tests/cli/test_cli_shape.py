"""``convzoo shape``: numbers in text and JSON match convzoo's arithmetic; pinned errors."""

import json

import pytest

from convzoo.cli.main import main
from convzoo.spec import ConvSpec

SEED_001 = ["shape", "--in", "3", "--out", "256", "-k", "5", "--input", "1,3,12,12"]
KEYS = {
    "input_shape", "output_shape", "formulas", "padding", "weight_shape", "params", "macs",
    "flops", "bias_adds", "bytes", "intensity", "receptive_field",
}


def run(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shape_json(capsys, *argv):
    code, out, err = run(capsys, "shape", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_seed_001_text(capsys):
    code, out, err = run(capsys, *SEED_001)
    assert code == 0 and err == ""
    assert "(1, 3, 12, 12) -> (1, 256, 8, 8)" in out
    assert "axis 0: padding (0, 0): out = floor((12 + 0 + 0 - 1*(5-1) - 1) / 1) + 1 = 8" in out
    for number in ("(256, 3, 5, 5)", "19,456", "1,228,800", "2,457,600", "16,384", "145,088"):
        assert number in out
    assert "r=5 S=1 P=0" in out


def test_seed_001_json(capsys):
    data = shape_json(capsys, *SEED_001[1:])
    assert KEYS <= data.keys()
    assert data["input_shape"] == [1, 3, 12, 12] and data["output_shape"] == [1, 256, 8, 8]
    assert data["formulas"] == ["floor((12 + 0 + 0 - 1*(5-1) - 1) / 1) + 1 = 8"] * 2
    assert data["padding"] == [[0, 0], [0, 0]] and data["weight_shape"] == [256, 3, 5, 5]
    assert (data["params"], data["macs"], data["flops"]) == (19456, 1228800, 2457600)
    # bias adds: one per output element; bytes: (input + params + output) * 4
    assert data["bias_adds"] == 256 * 8 * 8
    assert data["bytes"] == (3 * 12 * 12 + 19456 + 256 * 8 * 8) * 4 == 145088
    assert data["intensity"] == pytest.approx(2457600 / 145088, abs=1e-4)
    assert data["receptive_field"] == [{"r": 5, "S": 1, "P": 0}] * 2


def test_floor_with_stride_and_padding(capsys):
    """5x5 input, k=2, s=2, p=1: floor((5 + 2 - 2)/2) + 1 = 3."""
    data = shape_json(capsys, "--in", "1", "--out", "1", "-k", "2", "-s", "2", "-p", "1",
                      "--input", "1,1,5,5")
    assert data["output_shape"] == [1, 1, 3, 3]
    assert data["formulas"][0] == "floor((5 + 1 + 1 - 1*(2-1) - 1) / 2) + 1 = 3"


def test_transposed(capsys):
    argv = ["--in", "3", "--out", "16", "-k", "4", "-s", "2", "-p", "1", "--transposed",
            "--input", "2,3,16,16"]
    data = shape_json(capsys, *argv)
    assert data["output_shape"] == [2, 16, 32, 32] and data["weight_shape"] == [3, 16, 4, 4]
    assert data["macs"] == 2 * 3 * 16 * 16 * 16 * 4 * 4 == 393216  # no inserted zeros
    assert data["formulas"][0] == "(16 - 1)*2 - 1 - 1 + 1*(4-1) + 0 + 1 = 32"
    assert data["receptive_field"][0] == {"r": "5/2", "S": "1/2", "P": 1}
    code, out, _ = run(capsys, "shape", *argv)
    assert code == 0 and "transposed conv: (2, 3, 16, 16) -> (2, 16, 32, 32)" in out
    assert "crop (1, 1), output_padding 0" in out and "r=5/2 S=1/2 P=1" in out


@pytest.mark.parametrize("padding, input_shape, extra, out_shape, pads", [
    ("same", "1,3,7,8", ["-s", "2"], [1, 8, 4, 4], [[1, 1], [0, 1]]),
    ("same", "1,3,9,9", [], [1, 8, 9, 9], [[1, 1], [1, 1]]),
    ("valid", "1,3,9,9", [], [1, 8, 7, 7], [[0, 0], [0, 0]]),
    ("full", "1,3,9,9", [], [1, 8, 11, 11], [[2, 2], [2, 2]]),
    ("causal", "1,3,10", ["-d", "2"], [1, 8, 10], [[4, 0]]),
    ("1,2", "1,3,9,9", [], [1, 8, 9, 11], [[1, 1], [2, 2]]),
])
def test_padding_forms(capsys, padding, input_shape, extra, out_shape, pads):
    data = shape_json(capsys, "--in", "3", "--out", "8", "-k", "3", "-p", padding, *extra,
                      "--input", input_shape)
    assert data["output_shape"] == out_shape and data["padding"] == pads


@pytest.mark.parametrize("argv, kwargs, input_shape", [
    (["-k", "3,5", "-s", "2x1", "-p", "1,2"],
     dict(kernel_size=(3, 5), stride=(2, 1), padding=(1, 2)), (2, 4, 17, 9)),
    (["-k", "3", "-g", "4", "--no-bias"], dict(kernel_size=3, groups=4, bias=False),
     (1, 4, 10, 10)),
    (["-k", "3", "-d", "2", "-p", "2"], dict(kernel_size=3, dilation=2, padding=2),
     (1, 4, 10, 10)),
    (["-k", "1"], dict(kernel_size=1), (3, 4, 6, 6, 6)),
    (["-k", "4", "-s", "2", "-p", "1", "--transposed", "--output-padding", "1", "-g", "2"],
     dict(kernel_size=4, stride=2, padding=1, transposed=True, output_padding=1, groups=2),
     (2, 4, 5, 7)),
    (["-k", "3", "-p", "1", "--padding-mode", "reflect"],
     dict(kernel_size=3, padding=1, padding_mode="reflect"), (1, 4, 6, 6)),
])
def test_json_equals_the_library(capsys, argv, kwargs, input_shape):
    """The CLI is a thin wrapper: every number equals ConvSpec's."""
    spec = ConvSpec(4, 8, ndim=len(input_shape) - 2, **kwargs)
    cost = spec.cost(input_shape)
    data = shape_json(capsys, "--in", "4", "--out", "8", *argv,
                      "--input", ",".join(map(str, input_shape)))
    assert data["output_shape"] == list(spec.output_shape(input_shape))
    assert data["formulas"] == list(spec.output_formulas(input_shape))
    assert data["weight_shape"] == list(spec.weight_shape)
    assert [data[k] for k in ("params", "macs", "flops", "bias_adds", "bytes")] == [
        cost.params, cost.macs, cost.flops, cost.bias_adds, cost.bytes]


def test_no_bias_and_dtype(capsys):
    data = shape_json(capsys, "--in", "3", "--out", "4", "-k", "3", "-p", "1", "--no-bias",
                      "--input", "1,3,32,32")
    assert data["params"] == 108 and data["bias_adds"] == 0
    half = shape_json(capsys, "--in", "3", "--out", "4", "-k", "3", "-p", "1", "--no-bias",
                      "--input", "1,3,32,32", "--dtype", "float16")
    assert half["bytes"] * 2 == data["bytes"] and half["macs"] == data["macs"]


def test_input_accepts_x_separator(capsys):
    assert shape_json(capsys, "--in", "3", "--out", "4", "-k", "3",
                      "--input", "1x3x8x8")["output_shape"] == [1, 4, 6, 6]


def test_piped_text_has_no_ansi_codes_even_when_color_is_forced(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "40")
    code, out, _ = run(capsys, *SEED_001)
    assert code == 0 and "\x1b" not in out
    # never wrapped: each formula stays on one line, whatever the width
    (macs,) = [line for line in out.splitlines() if line.startswith("MACs")]
    assert macs.endswith("(N*C_out*prod(out)*(C_in/g)*prod(k) = 1*256*8*8*(3/1)*5*5 = 1228800)")


@pytest.mark.parametrize("argv, message", [
    (["--in", "3", "--out", "4", "-k", "3", "-g", "2", "--input", "1,3,8,8"],
     "`in_channels` (=3) must be divisible by `groups` (=2)"),
    (["--in", "3", "--out", "4", "-k", "3", "--input", "1,a"],
     "`--input` (='1,a') must be comma- or x-separated non-negative ints"),
    (["--in", "3", "--out", "4", "-k", "3", "--input", "1,3"],
     "`--input` (='1,3') must be N,C,*spatial with 1 to 3 spatial sizes, e.g. 1,3,32,32"),
    (["--in", "3", "--out", "4", "-k", "3", "--input", "1,3,8,8,8,8"],
     "`--input` (='1,3,8,8,8,8') must be N,C,*spatial with 1 to 3 spatial sizes, "
     "e.g. 1,3,32,32"),
    (["--in", "3", "--out", "4", "-k", "3", "-p", "half", "--input", "1,3,8,8"],
     "`--padding` (='half') must be one of 'valid', 'same', 'full', 'causal' or comma- or "
     "x-separated non-negative ints"),
    (["--in", "3", "--out", "4", "-k", "3", "-p", "vaild", "--input", "1,3,8,8"],
     "`--padding` (='vaild') must be one of 'valid', 'same', 'full', 'causal' or comma- or "
     "x-separated non-negative ints (did you mean 'valid'?)"),
    (["--in", "3", "--out", "4", "-k", "3", "-p", "1,-1", "--input", "1,3,8,8"],
     "`--padding` (='1,-1') must be comma- or x-separated non-negative ints"),
    (["--in", "3", "--out", "4", "-k", "0", "--input", "1,3,8,8"],
     "`--kernel-size` (='0') must be comma- or x-separated positive ints"),
    (["--in", "3", "--out", "4", "-k", "3,3,3", "--input", "1,3,8,8"],
     "`kernel_size` (=(3, 3, 3)) must have 2 elements, one per spatial dimension"),
    (["--in", "4", "--out", "4", "-k", "3", "--input", "1,3,8,8"],
     "`input_shape` channel dim (=3) must equal `in_channels` (=4)"),
    (["--in", "3", "--out", "4", "-k", "5", "--input", "1,3,4,8"],
     "effective kernel size d*(k-1)+1 (=5) must not exceed the padded input size (=4) along "
     "spatial dim 0"),
    (["--in", "3", "--out", "4", "-k", "3", "--padding-mode", "mirror", "--input", "1,3,8,8"],
     "`padding_mode` (='mirror') must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
    (["--in", "3", "--out", "4", "-k", "3", "--dtype", "float8", "--input", "1,3,8,8"],
     "`dtype` (='float8') must be one of float64, float32, float16, bfloat16, int32, int8, "
     "uint8"),
    (["--in", "3", "--out", "4", "-k", "3", "--output-padding", "1", "--input", "1,3,8,8"],
     "`output_padding` (=1) applies only to transposed convolutions (transposed=True)"),
    (["--in", "3", "--out", "4", "-k", "3", "-p", "full", "--transposed", "--input", "1,3,8"],
     "`padding` (='full') is not defined for transposed convolutions: use 'valid', 'same' "
     "(output = input * stride), an int, a tuple or (lo, hi) pairs"),
])
def test_errors_are_pinned_one_liners(capsys, argv, message):
    code, out, err = run(capsys, "shape", *argv)
    assert (code, out, err) == (2, "", f"convzoo: error: {message}\n")
