"""Shared CLI helpers: parsing of shapes and per-axis values, output paths, JSON, the console,
tables."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from fractions import Fraction
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from convzoo.paths import check_output_dir, check_output_file

__all__ = [
    "check_output_dir",
    "check_output_file",
    "console",
    "print_pairs",
    "parse_input",
    "parse_ints",
    "parse_padding",
    "per_axis",
    "expand_axes",
    "emit_json",
    "jsonable",
]

_SPLIT = re.compile(r"[,x×]")
_DIGITS = re.compile(r"[0-9]+")


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


def parse_ints(text: str, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """``'1,3,32,32'`` or ``'32x32'`` -> ints; ValueError naming the flag otherwise.

    Args:
        text: the flag's text; ``,``, ``x`` or ``×`` separate the values.
        name: the flag, as the user typed it (``'--input'``), for the error message.
        allow_zero: accept 0 (default False: every value must be positive).

    >>> parse_ints("32x64", "--input")
    (32, 64)
    >>> parse_ints("1,a", "--input")
    Traceback (most recent call last):
    ...
    ValueError: `--input` (='1,a') must be comma- or x-separated positive ints
    """
    parts = [p.strip() for p in _SPLIT.split(str(text))]
    low = 0 if allow_zero else 1
    if not all(_DIGITS.fullmatch(p) and int(p) >= low for p in parts):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` (={text!r}) must be comma- or x-separated {kind} ints")
    return tuple(int(p) for p in parts)


def parse_input(text: str, channels: int | None = None,
                channels_flag: str = "--in") -> tuple[tuple[int, ...], int | None, int | None]:
    """``--input`` of the commands that build their own layer (compare, animate): the spatial
    size (``56x56``, ``16``) or, as ``shape`` and ``summary`` take it, the whole input shape
    N,C,*spatial (``1,64,56,56``: commas and at least three values).

    Returns ``(spatial, batch, channels)``; ``batch`` and ``channels`` are None for the
    spatial form. A shape whose C differs from ``channels`` (the ``--in`` flag) is refused.

    >>> parse_input("56x56"), parse_input("2,64,56,56", 64)
    (((56, 56), None, None), ((56, 56), 2, 64))
    >>> parse_input("1,3,56,56", 64)
    Traceback (most recent call last):
    ...
    ValueError: `--input` (='1,3,56,56') has C=3 where `--in` is 64
    """
    values = parse_ints(text, "--input")
    if "," not in str(text) or len(values) < 3:
        return values, None, None
    if len(values) > 5:
        raise ValueError(f"`--input` (={text!r}) must be the spatial size (like 56x56) or "
                         "N,C,*spatial with 1 to 3 spatial sizes")
    batch, given, *spatial = values
    if channels is not None and given != channels:
        raise ValueError(f"`--input` (={text!r}) has C={given} where `{channels_flag}` is "
                         f"{channels}")
    return tuple(spatial), batch, given


def per_axis(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """A single value stands for every axis (``(3,)`` -> ``3``).

    >>> per_axis((3,)), per_axis((3, 5))
    (3, (3, 5))
    """
    return values[0] if len(values) == 1 else values


def expand_axes(text: str, name: str, n: int, allow_zero: bool = False) -> tuple[int, ...]:
    """Parse a per-axis flag into exactly ``n`` values (one value stands for every axis).

    >>> expand_axes("3", "--kernel", 2), expand_axes("3x5", "--kernel", 2)
    ((3, 3), (3, 5))
    """
    values = parse_ints(text, name, allow_zero)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        rule = f"1 value or {n}, one per axis" if n > 1 else "1 value, like `--input`"
        raise ValueError(f"`{name}` (={text!r}) must have {rule}")
    return values


def parse_padding(text: str) -> Any:
    """``'same'`` / ``'1'`` / ``'1,2'`` -> the padding argument ConvSpec takes.

    Words are passed through so that ConvSpec rejects unknown ones with its message listing
    the valid strings.

    >>> parse_padding("same"), parse_padding("1"), parse_padding("1,2")
    ('same', 1, (1, 2))
    """
    text = text.strip()
    if text.isalpha():
        return text
    return per_axis(parse_ints(text, "--padding", allow_zero=True))


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
