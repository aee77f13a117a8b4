"""The command line: numbers in text and JSON, exit codes, one-line pinned errors."""

import json
import subprocess
import sys

import pytest

from convzoo.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_shape_seed_001_in_text_and_json(capsys):
    code, out, _ = run(capsys, "shape", "--in", "3", "--out", "256", "-k", "5",
                       "--input", "1,3,12,12")
    assert code == 0
    assert "(1, 3, 12, 12) -> (1, 256, 8, 8)" in out and "19,456" in out and "1,228,800" in out
    assert "\x1b" not in out  # plain text when not a terminal
    code, out, _ = run(capsys, "shape", "--in", "3", "--out", "256", "-k", "5",
                       "--input", "1,3,12,12", "--json")
    data = json.loads(out)
    assert data["output_shape"] == [1, 256, 8, 8]
    assert (data["params"], data["macs"], data["flops"]) == (19456, 1228800, 2457600)
    assert data["formulas"][0] == "floor((12 + 0 + 0 - 1*(5-1) - 1) / 1) + 1 = 8"
    assert data["receptive_field"][0] == {"r": 5, "S": 1, "P": 0}


def test_shape_stride_padding_floor(capsys):
    code, out, _ = run(capsys, "shape", "--in", "1", "--out", "1", "-k", "2", "-s", "2",
                       "-p", "1", "--input", "1,1,5,5", "--json")
    assert json.loads(out)["output_shape"] == [1, 1, 3, 3]


def test_shape_transposed_and_same(capsys):
    code, out, _ = run(capsys, "shape", "--in", "3", "--out", "16", "-k", "4", "-s", "2", "-p",
                       "1", "--transposed", "--input", "2,3,16,16", "--json")
    data = json.loads(out)
    assert data["output_shape"] == [2, 16, 32, 32] and data["macs"] == 393216
    assert data["receptive_field"][0] == {"r": "5/2", "S": "1/2", "P": 1}
    code, out, _ = run(capsys, "shape", "--in", "3", "--out", "8", "-k", "3", "-s", "2", "-p",
                       "same", "--input", "1,3,7,8", "--json")
    data = json.loads(out)
    assert data["output_shape"] == [1, 8, 4, 4] and data["padding"] == [[1, 1], [0, 1]]


def test_solve_forward_transposed_inverse(capsys):
    code, out, _ = run(capsys, "solve", "--input", "32", "--target", "16", "-k", "3", "-s", "2",
                       "--json")
    axis = json.loads(out)["axes"][0]
    assert axis["symmetric"] == 1 and axis["total_padding"] == [1, 2] and axis["pair"] == [0, 1]
    code, out, _ = run(capsys, "solve", "--transposed", "--input", "16", "--target", "32", "-k",
                       "3", "-s", "2", "-p", "1")
    assert code == 0 and "output_padding=1" in out and "31..32" in out
    code, out, _ = run(capsys, "solve", "--inverse", "--input", "32x31", "-k", "3", "-s", "2",
                       "-p", "1", "--json")
    axes = json.loads(out)["axes"]
    assert [a["transposed"]["output_padding"] for a in axes] == [1, 0]
    assert axes[0]["check"].endswith("= 32") and axes[1]["check"].endswith("= 31")


@pytest.mark.parametrize("argv, message", [
    (["shape", "--in", "3", "--out", "4", "-k", "3", "-g", "2", "--input", "1,3,8,8"],
     "convzoo: error: `in_channels` (=3) must be divisible by `groups` (=2)\n"),
    (["shape", "--in", "3", "--out", "4", "-k", "3", "--input", "1,a"],
     "convzoo: error: `--input` (='1,a') must be comma- or x-separated non-negative ints\n"),
    (["shape", "--in", "3", "--out", "4", "-k", "3", "-p", "half", "--input", "1,3,8,8"],
     "convzoo: error: `--padding` (='half') must be one of 'valid', 'same', 'full', 'causal' "
     "or comma- or x-separated non-negative ints\n"),
    (["shape", "--in", "3", "--out", "4", "-k", "5", "--input", "1,3,4,8"],
     "convzoo: error: effective kernel size d*(k-1)+1 (=5) must not exceed the padded input "
     "size (=4) along spatial dim 0\n"),
    (["solve", "--input", "9", "--target", "2", "-k", "5"],
     "convzoo: error: `target` (=2) is unreachable: without padding the output is already 5, "
     "and padding only makes it larger\n"),
    (["solve", "--transposed", "--input", "3", "--target", "9", "-k", "3", "-s", "2", "-p", "1"],
     "convzoo: error: `output_size` (=9) is unreachable for input size 3, kernel 3, stride 2, "
     "padding 1, dilation 1: valid sizes are 5..6\n"),
])
def test_errors_are_one_line_with_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and err == message and out == ""


def test_module_entry_point_runs_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "convzoo", "shape", "--in", "3", "--out", "4",
                           "-k", "3", "-p", "1", "--input", "2,3,32,32", "--no-bias", "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["params"] == 108
    proc = subprocess.run([sys.executable, "-m", "convzoo", "--version"], capture_output=True,
                          text=True, check=False)
    assert proc.stdout.startswith("convzoo ")
