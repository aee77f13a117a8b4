"""One name per flag: the convolution flags declared once (shape, compare and animate share
them), torch.nn's names (``--kernel-size``, ``--upscale-factor``, ``--downscale-factor``), and
the old spellings still read for one release, each with a warning on stderr."""

from __future__ import annotations

import argparse
import json

import pytest

from convzoo.cli.main import build_parser, main

WARNING = "convzoo: warning: `{}` is deprecated and will be removed in convzoo 0.2: use `{}`\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _options(command: str) -> dict[str, argparse.Action]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {s: a for a in sub.choices[command]._actions for s in a.option_strings}


def test_shape_compare_and_animate_declare_the_conv_flags_once():
    shape, compare, animate = (_options(c) for c in ("shape", "compare", "animate"))
    for flag in ("--in", "--out", "-k", "--kernel-size", "-s", "--stride"):
        assert flag in shape and flag in compare and flag in animate
        assert shape[flag].dest == compare[flag].dest == animate[flag].dest
    for flag in ("-p", "-d", "-g", "--output-padding"):
        assert shape[flag].dest == animate[flag].dest
    # required with defaults where a plain conv is meant, optional (the kind's default) in animate
    assert shape["--in"].required and compare["--in"].required and not animate["--in"].required
    assert shape["-s"].default == compare["-s"].default == "1" and animate["-s"].default is None


@pytest.mark.parametrize("command", ["shape", "solve", "compare", "animate"])
def test_help_shows_the_new_spellings_only(capsys, command):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "--kernel-size" in out
    usage = out.split("\n\n")[0]
    listed = [line.split()[:4] for line in out.splitlines() if line.lstrip().startswith("-")]
    for old in ("--kernel", "--upsample", "--factor"):
        assert f"[{old} " not in usage and f" {old} " not in usage
        assert not any(old in words or f"{old}," in words for words in listed)


def test_old_kernel_flag_gives_the_same_answer_with_a_warning(capsys):
    argv = ["shape", "--in", "3", "--out", "8", "--input", "1,3,16,16", "--json"]
    code, new, err = run(capsys, *argv, "--kernel-size", "3x5")
    assert code == 0 and err == ""
    code, old, err = run(capsys, *argv, "--kernel", "3x5")
    assert code == 0 and old == new and err == WARNING.format("--kernel", "--kernel-size")
    code, old, err = run(capsys, *argv, "--kernel=3x5")  # the = form too
    assert code == 0 and old == new and err == WARNING.format("--kernel", "--kernel-size")
    code, out, err = run(capsys, "solve", "--input", "32", "--target", "16", "--kernel", "3",
                         "-s", "2", "--json")
    assert code == 0 and json.loads(out)["axes"] and err == WARNING.format("--kernel",
                                                                            "--kernel-size")


def test_old_upsample_flag_of_compare(capsys):
    argv = ["compare", "--in", "4", "--out", "2", "-k", "3", "--input", "5", "--no-measure",
            "--json"]
    code, new, err = run(capsys, *argv, "--upscale-factor", "2")
    assert code == 0 and err == "" and json.loads(new)["config"]["upscale_factor"] == 2
    code, old, err = run(capsys, *argv, "--upsample", "2")
    assert code == 0 and old == new
    assert err == WARNING.format("--upsample", "--upscale-factor")


@pytest.mark.parametrize("kind, new", [("pixel_shuffle", "upscale_factor"),
                                       ("space-to-depth", "downscale_factor"),
                                       ("resize_conv", "upscale_factor")])
def test_old_factor_flag_of_animate_names_the_kinds_factor(capsys, tmp_path, kind, new):
    from convzoo.cli.animate import options_from_args

    parser = build_parser("animate")
    flag = "--" + new.replace("_", "-")
    args = parser.parse_args(["animate", kind, "-o", str(tmp_path / "a.gif"), "--factor", "3"])
    assert options_from_args(args) == {new: 3}
    assert capsys.readouterr().err == WARNING.format("--factor", flag)
    args = parser.parse_args(["animate", kind, "-o", "a.gif", "--factor", "3", flag, "2"])
    with pytest.raises(ValueError, match=f"^`--factor` \\(=3\\) and `{flag}` name the same "
                                         f"option; pass only `{flag}`$"):
        options_from_args(args)


def test_animate_reads_the_new_factor_flags(capsys, tmp_path):
    code, out, err = run(capsys, "animate", "pixel_unshuffle", "--input", "6x6",
                         "--downscale-factor", "3", "-o", str(tmp_path / "u.svg"))
    assert code == 0 and err == "" and "pixel_unshuffle" in out
    code, _, err = run(capsys, "animate", "pixel_unshuffle", "--upscale-factor", "3", "-o",
                       str(tmp_path / "u.svg"))
    assert code == 2 and "`upscale_factor` (=3) does not apply to kind 'pixel_unshuffle'" in err


@pytest.mark.parametrize("argv, message", [
    (["animate", "seperable", "-o", "x.gif"],
     "convzoo: error: `kind` (='seperable') is not a variant name; did you mean 'separable'? "
     "Valid: conv, "),
    (["animate", "deconv", "-o", "x.gif"],
     "convzoo: error: `kind` (='deconv') is not a variant name; did you mean 'transposed'? "),
    (["summary", "mobilenet_v3", "--input", "1,3,32,32"],
     "convzoo: error: MODEL (='mobilenet_v3') is not a zoo model: ValueError: `name` "
     "(='mobilenet_v3') is not a zoo model; did you mean 'mobilenet_v2'? "),
    (["report", "--variants", "grouped,atrus", "-o", "r.html"],
     "convzoo: error: `variants` entry (='atrus') is not a report section; did you mean "
     "'atrous'? "),
])
def test_misspelled_names_get_the_closest_valid_one(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith(message) and err.count("\n") == 1


def test_parse_input_is_a_deprecated_alias_of_the_one_parser():
    from convzoo.cli.output import parse_input
    from convzoo.text import parse_size

    with pytest.warns(FutureWarning, match=r"`convzoo.cli.output.parse_input` is deprecated .* "
                                           r"use `convzoo.text.parse_size`"):
        assert parse_input("2,4,8,8", 4) == parse_size("2,4,8,8", "--input", 4) == ((8, 8), 2, 4)
