"""Shared CLI helpers: argument parsing of shapes and per-axis values, JSON, the console."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

from rich.console import Console

__all__ = ["console", "parse_ints", "parse_padding", "emit_json", "jsonable"]

_SPLIT = re.compile(r"[,x×]")


def console() -> Console:
    """A rich console: tables in a terminal, plain text (no ANSI codes) when piped."""
    return Console(highlight=False)


def parse_ints(text: str, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """``'1,3,32,32'`` or ``'32x32'`` -> ints; ValueError naming the flag otherwise.

    >>> parse_ints("32x64", "--input")
    (32, 64)
    """
    parts = [p.strip() for p in _SPLIT.split(str(text))]
    low = 0 if allow_zero else 1
    if not parts or not all(p.isdigit() and int(p) >= low for p in parts):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"`{name}` (={text!r}) must be comma- or x-separated {kind} ints")
    return tuple(int(p) for p in parts)


def parse_padding(text: str) -> Any:
    """``'same'`` / ``'1'`` / ``'1,2'`` -> the padding argument ConvSpec takes.

    >>> parse_padding("same"), parse_padding("1"), parse_padding("1,2")
    ('same', 1, (1, 2))
    """
    if text.isalpha():
        return text
    values = parse_ints(text, "--padding", allow_zero=True)
    return values[0] if len(values) == 1 else values


def per_axis(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """A single value stands for every axis."""
    return values[0] if len(values) == 1 else values


def jsonable(obj: Any) -> Any:
    """Tuples, Fractions and dataclass-like values -> plain JSON values."""
    if isinstance(obj, Fraction):
        return str(obj) if obj.denominator != 1 else int(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, range)):
        return [jsonable(v) for v in obj]
    return obj


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout."""
    print(json.dumps(jsonable(obj), indent=2))
