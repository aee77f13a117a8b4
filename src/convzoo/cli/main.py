"""``convzoo``: the command-line entry point (argparse subcommands, one module each)."""

from __future__ import annotations

import argparse
import sys

from convzoo import __version__

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    from convzoo.cli import shape, solve, tour

    parser = argparse.ArgumentParser(
        prog="convzoo", description="Every convolution used in deep learning: build, compute, "
        "count and explain them.",
    )
    parser.add_argument("--version", action="version", version=f"convzoo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (tour, shape, solve):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input gives ``convzoo: error: <message>`` on stderr and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ValueError as e:
        print(f"convzoo: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
