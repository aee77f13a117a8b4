"""``convzoo solve``: forward padding, transposed output_padding, the inverse transposed conv."""

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convzoo.arithmetic import conv_output_size, conv_transpose_output_size
from convzoo.cli.main import main

# capsys is function-scoped but readouterr() empties it after every example
CLI_SETTINGS = settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def run(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def solve_json(capsys, *argv):
    code, out, err = run(capsys, "solve", *argv, "--json")
    assert code == 0, err
    return json.loads(out)["axes"]


def test_forward_32_to_16_symmetric_padding_1(capsys):
    (axis,) = solve_json(capsys, "--input", "32", "--target", "16", "-k", "3", "-s", "2")
    assert axis["total_padding"] == [1, 2] and axis["pair"] == [0, 1]
    assert axis["symmetric"] == 1
    assert axis["check"] == "floor((32 + 0 + 1 - 1*(3-1) - 1) / 2) + 1 = 16"
    assert axis["symmetric_check"] == "floor((32 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = 16"
    code, out, err = run(capsys, "solve", "--input", "32", "--target", "16", "-k", "3", "-s", "2")
    assert code == 0 and err == "" and "\x1b" not in out
    assert "total padding 1..2" in out and "(0, 1)" in out and "symmetric: padding=1" in out


def test_forward_per_axis(capsys):
    axes = solve_json(capsys, "--input", "32x64", "--target", "16x32", "-k", "3", "-s", "2")
    assert [a["symmetric"] for a in axes] == [1, 1]
    assert [a["check"][-4:] for a in axes] == ["= 16", "= 32"]
    axes = solve_json(capsys, "--input", "32,9", "--target", "32,9", "-k", "3,5", "-d", "2,1")
    assert [a["symmetric"] for a in axes] == [2, 2] and [a["pair"] for a in axes] == [
        [2, 2], [2, 2]]


def test_forward_without_symmetric_padding(capsys):
    """k=4, stride 1 needs a total of 3: no (p, p) works."""
    (axis,) = solve_json(capsys, "--input", "8", "--target", "8", "-k", "4")
    assert axis["symmetric"] is None and axis["symmetric_check"] is None
    assert axis["pair"] == [1, 2] and axis["total_padding"] == [3, 3]
    code, out, _ = run(capsys, "solve", "--input", "8", "--target", "8", "-k", "4")
    assert code == 0 and "symmetric: none" in out


def test_transposed_output_padding(capsys):
    (axis,) = solve_json(capsys, "--transposed", "--input", "16", "--target", "32", "-k", "3",
                         "-s", "2", "-p", "1")
    assert axis["output_padding"] == 1 and axis["reachable"] == [31, 32]
    assert axis["check"] == "(16 - 1)*2 - 1 - 1 + 1*(3-1) + 1 + 1 = 32"
    code, out, _ = run(capsys, "solve", "--transposed", "--input", "16", "--target", "32", "-k",
                       "3", "-s", "2", "-p", "1")
    assert code == 0 and "output_padding=1" in out and "reachable sizes 31..32" in out


def test_inverse_restores_the_input_size(capsys):
    axes = solve_json(capsys, "--inverse", "--input", "32x31", "-k", "3", "-s", "2", "-p", "1")
    assert [a["transposed"] for a in axes] == [
        {"kernel": 3, "stride": 2, "padding": [1, 1], "dilation": 1, "output_padding": op}
        for op in (1, 0)
    ]
    assert axes[0]["conv"].endswith("= 16") and axes[0]["check"].endswith("= 32")
    assert axes[1]["conv"].endswith("= 16") and axes[1]["check"].endswith("= 31")
    code, out, _ = run(capsys, "solve", "--inverse", "--input", "32", "-k", "3", "-s", "2",
                       "-p", "1")
    assert code == 0 and "output_padding=1" in out and out.rstrip().endswith("= 32")


@given(size=st.integers(1, 64), kernel=st.integers(1, 7), stride=st.integers(1, 4),
       dilation=st.integers(1, 3), data=st.data())
@CLI_SETTINGS
def test_forward_solutions_give_the_target(capsys, size, kernel, stride, dilation, data):
    """Every total padding the CLI reports, and its symmetric padding, hit the target."""
    e = dilation * (kernel - 1) + 1
    smallest = conv_output_size(size + max(e - size, 0), kernel, stride, 0, dilation)
    target = data.draw(st.integers(smallest, smallest + 8))
    (axis,) = solve_json(capsys, "--input", str(size), "--target", str(target), "-k",
                         str(kernel), "-s", str(stride), "-d", str(dilation))
    lo, hi = axis["total_padding"]
    for total in (lo, hi):
        assert conv_output_size(size, kernel, stride, (0, total), dilation) == target
    if axis["symmetric"] is not None:
        assert conv_output_size(size, kernel, stride, axis["symmetric"], dilation) == target


@given(size=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 4),
       padding=st.integers(0, 3))
@CLI_SETTINGS
def test_inverse_round_trips(capsys, size, kernel, stride, padding):
    assume(size + 2 * padding >= kernel)  # the conv has an output to restore from
    (axis,) = solve_json(capsys, "--inverse", "--input", str(size), "-k", str(kernel), "-s",
                         str(stride), "-p", str(padding))
    out = conv_output_size(size, kernel, stride, padding)
    op = axis["transposed"]["output_padding"]
    assert conv_transpose_output_size(out, kernel, stride, padding, op) == size


@pytest.mark.parametrize("argv, message", [
    (["--input", "9", "--target", "2", "-k", "5"],
     "`target` (=2) is unreachable: without padding the output is already 5, and padding only "
     "makes it larger"),
    (["--transposed", "--input", "3", "--target", "9", "-k", "3", "-s", "2", "-p", "1"],
     "`output_size` (=9) is unreachable for input size 3, kernel 3, stride 2, padding 1, "
     "dilation 1: valid sizes are 5..6"),
    (["--input", "32", "--target", "16", "-k", "3", "-s", "2", "-p", "1"],
     "`--padding` (='1') applies only with --transposed or --inverse: a forward solve finds "
     "the padding"),
    (["--inverse", "--input", "32", "--target", "16", "-k", "3"],
     "`--target` (='16') does not apply with --inverse: the target is the conv's input size"),
    (["--input", "32", "-k", "3"], "`--target` is required (or use --inverse)"),
    (["--input", "32", "--target", "16x8", "-k", "3"],
     "`--target` (='16x8') must have 1 value, like `--input`"),
    (["--input", "32x32", "--target", "16", "-k", "3,3,3"],
     "`--kernel-size` (='3,3,3') must have 1 value or 2, one per axis"),
    (["--input", "32", "--target", "0", "-k", "3"],
     "`--target` (='0') must be comma- or x-separated positive ints"),
    (["--input", "32;32", "--target", "16", "-k", "3"],
     "`--input` (='32;32') must be comma- or x-separated positive ints"),
])
def test_errors_are_pinned_one_liners(capsys, argv, message):
    code, out, err = run(capsys, "solve", *argv)
    assert (code, out, err) == (2, "", f"convzoo: error: {message}\n")


def test_transposed_and_inverse_are_exclusive(capsys):
    code, out, err = run(capsys, "solve", "--transposed", "--inverse", "--input", "8", "-k", "3")
    assert code == 2 and out == "" and "not allowed with argument" in err
