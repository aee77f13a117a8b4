"""The ``convzoo`` entry point: subcommands, --version, exit codes, one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from convzoo import __version__
from convzoo.cli import main as cli_main
from convzoo.cli import solve
from convzoo.cli.main import build_parser, main


def run(capsys, *argv):
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    assert run(capsys, "--version") == (0, f"convzoo {__version__}\n", "")


def test_every_subcommand_is_registered(capsys):
    """tour (imported lazily), shape, solve, ...: each sets ``func`` on its parser."""
    commands = build_parser()._subparsers._group_actions[0].choices
    assert list(commands) == list(cli_main.SUBCOMMANDS)
    assert {"tour", "shape", "solve"} <= set(commands)
    for name, sub in commands.items():
        assert callable(sub.get_default("func")), name
    code, out, _ = run(capsys, "--help")
    assert code == 0 and all(name in out for name in commands)


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == "" and err.startswith("usage: convzoo")


@pytest.mark.parametrize("argv, fragment", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["shape", "--in", "3"], "the following arguments are required"),
    (["shape", "--in", "three", "--out", "4", "-k", "3", "--input", "1,3,8,8"],
     "convzoo: error: `--in` (='three') must be one positive int"),
])
def test_usage_errors_return_2_instead_of_raising(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and fragment in err


def test_value_errors_become_one_line_without_traceback(capsys, monkeypatch):
    def boom(args):
        raise ValueError("`x` (=1)\nmust be 2")

    monkeypatch.setattr(solve, "run", boom)
    code, out, err = run(capsys, "solve", "--input", "8", "--target", "8", "-k", "3")
    assert (code, out, err) == (2, "", "convzoo: error: `x` (=1) must be 2\n")


def test_other_exceptions_are_not_swallowed(monkeypatch):
    def bug(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(solve, "run", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["solve", "--input", "8", "--target", "8", "-k", "3"])


def _convzoo(*argv):
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "40"}
    return subprocess.run([sys.executable, "-m", "convzoo", *argv], capture_output=True,
                          text=True, check=False, env=env, timeout=120)


def test_python_dash_m_convzoo_in_a_subprocess():
    """The console entry point end to end: JSON, piped text without ANSI, exit codes."""
    proc = _convzoo("shape", "--in", "3", "--out", "4", "-k", "3", "-p", "1",
                    "--input", "2,3,32,32", "--no-bias", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["params"] == 108 and data["output_shape"] == [2, 4, 32, 32]
    proc = _convzoo("solve", "--input", "32", "--target", "16", "-k", "3", "-s", "2")
    assert proc.returncode == 0 and "\x1b" not in proc.stdout
    assert len(proc.stdout.splitlines()) == 1 and "symmetric: padding=1" in proc.stdout
    proc = _convzoo("solve", "--input", "9", "--target", "2", "-k", "5")
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr == (
        "convzoo: error: `target` (=2) is unreachable: without padding the output is already 5, "
        "and padding only makes it larger\n"
    )
    proc = _convzoo("--version")
    assert (proc.returncode, proc.stdout) == (0, f"convzoo {__version__}\n")
