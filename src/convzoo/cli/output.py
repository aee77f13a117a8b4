"""Shared CLI helpers: renamed flags, output paths, JSON, the console, tables.

Text is read by :mod:`convzoo.text`, the one parser the playground uses too (its
``parse_ints``, ``parse_padding``, ``per_axis`` and ``expand_axes`` are importable from here as
before).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from fractions import Fraction
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from convzoo.names import deprecated_message, renamed_function
from convzoo.paths import check_output_dir, check_output_file
from convzoo.text import expand_axes, parse_ints, parse_padding, parse_size, per_axis

__all__ = [
    "check_output_dir",
    "check_output_file",
    "console",
    "print_pairs",
    "parse_ints",
    "parse_padding",
    "per_axis",
    "expand_axes",
    "renamed_flag",
    "output_arguments",
    "show",
    "emit_json",
    "jsonable",
]


def console() -> Console:
    """A rich console on stdout: styles and tables in a terminal, plain text when piped.

    Styles are decided by whether stdout is a TTY (not by ``FORCE_COLOR``), so piped or
    redirected output never contains ANSI escape codes; piped lines are never wrapped, so a
    formula stays on one line (grep-able).
    """
    tty = sys.stdout.isatty()
    return Console(
        file=sys.stdout, force_terminal=tty, no_color=not tty, highlight=False, soft_wrap=not tty
    )


def print_pairs(out: Console, rows: list[tuple[str, str]]) -> None:
    """Print ``(what, value)`` rows: a two-column table in a terminal, aligned lines when piped.

    Values are printed literally (no rich markup).
    """
    if not out.is_terminal:
        width = max((len(what) for what, _ in rows), default=0)
        for what, value in rows:
            out.print(f"{what:<{width}}  {value}", markup=False)
        return
    table = Table(show_header=False, box=box.SIMPLE)
    table.add_column("what", no_wrap=True, style="bold")
    table.add_column("value")
    for what, value in rows:
        table.add_row(escape(what), escape(value))
    out.print(table)


class _Renamed(argparse.Action):
    """Stores like ``'store'``; the old spelling of the flag (:func:`renamed_flag`) also works,
    with a warning on stderr."""

    def __init__(self, option_strings: list[str], dest: str, old: tuple[str, ...] = (),
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.old = old

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if option_string in self.old:
            new = max(self.option_strings, key=len)
            print(f"convzoo: warning: {deprecated_message(option_string, new)}",
                  file=sys.stderr)
        setattr(namespace, self.dest, values)


def renamed_flag(p: argparse.ArgumentParser, *flags: str, old: tuple[str, ...],
                 **kwargs: Any) -> argparse.Action:
    """``p.add_argument(*flags, **kwargs)``, also reading the ``old`` spellings of the flag
    (kept for one release: each use prints a warning on stderr; ``--help`` shows the new
    spellings only)."""
    action = p.add_argument(*flags, *old, action=_Renamed, old=old, **kwargs)
    action.option_strings = [f for f in action.option_strings if f not in old]  # help, errors
    return action


@renamed_function("convzoo.cli.output.parse_input", "convzoo.text.parse_size")
def parse_input(text: str, channels: int | None = None, channels_flag: str = "--in"
                ) -> tuple[tuple[int, ...], int | None, int | None]:
    """Deprecated: ``convzoo.text.parse_size(text, "--input", channels, channels_flag)``."""
    return parse_size(text, "--input", channels, channels_flag)


def output_arguments(p: argparse.ArgumentParser, csv: bool = False) -> None:
    """``--json`` (and ``--csv``) and ``--wide``: how a result with tables is printed (shared
    by summary, profile, compare...)."""
    if csv:
        fmt = p.add_mutually_exclusive_group()
        fmt.add_argument("--json", action="store_true", help="print JSON")
        fmt.add_argument("--csv", action="store_true", help="print CSV (one line per row)")
    else:
        p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--wide", action="store_true",
                   help="every digit (4,089,184,256 instead of 4.09 G); may exceed 80 columns")


def show(result: Any, args: argparse.Namespace) -> int:
    """Print a result with tables as :func:`output_arguments` asked: JSON, CSV or the tables
    (fitting 80 columns unless ``--wide``)."""
    if args.json:
        emit_json(result.to_dict())
    elif getattr(args, "csv", False):
        print(result.to_csv(), end="")
    else:
        result.render(console(), wide=args.wide)
    return 0


def jsonable(obj: Any) -> Any:
    """Tuples, ranges, Fractions and dataclasses -> plain JSON values.

    A Fraction becomes ``"5/2"`` (an int when whole); a range ``range(a, b)`` becomes the
    inclusive ``[a, b - 1]``.

    >>> jsonable({"r": Fraction(5, 2), "s": Fraction(4, 2), "t": (1, 2), "u": range(1, 3)})
    {'r': '5/2', 's': 2, 't': [1, 2], 'u': [1, 2]}
    """
    if isinstance(obj, Fraction):
        return str(obj) if obj.denominator != 1 else int(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, range):
        return [obj.start, obj.stop - 1]
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (2 spaces) on stdout."""
    print(json.dumps(jsonable(obj), indent=2, default=str))
