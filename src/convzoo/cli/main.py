"""``convzoo``: the command-line entry point (argparse subcommands, one module each).

Each subcommand module exposes ``add_parser(subparsers)``, which registers its flags and sets
``func=run`` with ``run(args) -> int``. Modules are imported only when the parser is built, and
a command line naming a subcommand builds the parser of that one only: ``convzoo shape`` and
``convzoo solve`` import neither torch nor the other subcommands. Subcommand modules keep
their top-level imports light (argparse, rich, ``convzoo.arithmetic``) and import the library
inside ``run``.
"""

from __future__ import annotations

import argparse
import os
import sys

from convzoo import __version__

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: Subcommand modules under ``convzoo.cli``, in the order ``--help`` lists them.
SUBCOMMANDS = ("tour", "shape", "solve", "summary", "rf", "compare", "profile", "animate", "report",
               "serve", "train", "bench", "optimize", "decompose", "advise")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but an abbreviation that also matches a visible flag never matches a
    hidden one (a deprecated spelling, ``help=SUPPRESS``): ``--kern`` is ``--kernel-size``,
    and no error names the hidden ``--kernel``. Subcommands' parsers are of this class too."""

    def _get_option_tuples(self, option_string: str) -> list:  # type: ignore[override]
        tuples = super()._get_option_tuples(option_string)
        shown = [t for t in tuples if t[1] not in getattr(t[0], "old", ())
                 and t[0].help != argparse.SUPPRESS]
        return shown or tuples


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand registered, or only the subcommand ``only``."""
    from importlib import import_module

    parser = _Parser(
        prog="convzoo",
        description="Every convolution used in deep learning: build, compute, count, see, "
        "train and run them fast.",
    )
    parser.add_argument("--version", action="version", version=f"convzoo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS if only is None else (only,):
        import_module(f"convzoo.cli.{name}").add_parser(subparsers)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand an argument list names (its first non-option word), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in SUBCOMMANDS else None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises ``SystemExit``).

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        0 on success; 2 on bad input: argparse's usage errors, and any ``ValueError`` from
        convzoo, printed as one line ``convzoo: error: <message>`` on stderr (no traceback).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    try:
        args = parser.parse_args(argv)  # a flag read by convzoo.text may raise ValueError
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except SystemExit as stop:  # --help, --version and usage errors
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    except ValueError as e:
        message = " ".join(str(e).splitlines())  # one line, whatever the message
        print(f"convzoo: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # piped into `head`: the reader left, nothing to report
        # point stdout at devnull so that the interpreter's final flush does not fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
