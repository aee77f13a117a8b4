"""``convzoo``: the command-line entry point (argparse subcommands, one module each).

Each subcommand module exposes ``add_parser(subparsers)``, which registers its flags and sets
``func=run`` with ``run(args) -> int``. Modules are imported only when the parser is built.
"""

from __future__ import annotations

import argparse
import os
import sys

from convzoo import __version__

__all__ = ["main", "build_parser", "SUBCOMMANDS"]

#: Subcommand modules under ``convzoo.cli``, in the order ``--help`` lists them.
SUBCOMMANDS = ("tour", "shape", "solve", "summary", "rf", "compare", "profile", "animate", "report",
               "train", "bench", "decompose", "advise")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    from importlib import import_module

    parser = argparse.ArgumentParser(
        prog="convzoo",
        description="Every convolution used in deep learning: build, compute, count, see, "
        "train and run them fast.",
    )
    parser.add_argument("--version", action="version", version=f"convzoo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        import_module(f"convzoo.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (never raises ``SystemExit``).

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        0 on success; 2 on bad input: argparse's usage errors, and any ``ValueError`` from
        convzoo, printed as one line ``convzoo: error: <message>`` on stderr (no traceback).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version and usage errors
        return stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
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
