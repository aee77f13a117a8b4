"""Sizes, shapes, per-axis values and paddings written as text: the one parser of the CLI's
flags and the playground's query parameters.

At the bottom of the package (no torch): ``convzoo.cli`` and ``convzoo.serve`` read text with
these functions only, so a string means the same thing on the command line and in a URL.
Every error is a ``ValueError`` naming the flag or parameter as the user wrote it
(``--input``, ``input``), the text, and the rule.

The rules:

1. **A list of ints** is written with ``,``, ``x`` or ``×`` between the values (spaces
   around them are ignored): ``3``, ``3,5``, ``3x5``, ``56 x 56``. Every value is a positive
   int (non-negative where zero means something: padding, output_padding).
2. **A per-axis value** (kernel size, stride, dilation, padding, output_padding) is such a
   list: one value stands for every axis (``3`` is ``3x3`` on a 2-D input), otherwise one
   value per spatial axis.
3. **A padding** is one of the words ``valid``, ``same``, ``full``, ``causal`` (any case) or a
   per-axis list of non-negative ints.
4. **An input size** (``convzoo compare`` and ``convzoo animate``'s ``--input``, the
   playground's ``input``) is the spatial size (``56x56``, ``16``, ``3x4x4``), unless it is
   written with commas and has at least 3 values: then it is the whole input shape
   ``N,C,*spatial`` as ``convzoo shape`` and ``convzoo summary`` take it (``1,64,56,56``), and
   its ``C`` must match the channel count given beside it. So ``3,4,4`` is N=3, C=4, L=4 on
   the command line and in the playground alike; a 3-D spatial size is written ``3x4x4``.
5. **An input shape** (``convzoo shape``, ``summary``, ``rf``, ``profile``...) is the whole
   ``N,C,*spatial`` (commas or ``x``).

>>> parse_ints("56 x 56", "--input"), parse_padding("SAME", "p"), parse_padding("1,2", "p")
((56, 56), 'same', (1, 2))
>>> parse_size("3,4,4", "input"), parse_size("3x4x4", "input")
(((4,), 3, 4), ((3, 4, 4), None, None))
"""

from __future__ import annotations

import re
from typing import Any

from convzoo.arithmetic.padding import PADDING_STRINGS
from convzoo.names import did_you_mean

__all__ = ["parse_ints", "parse_int", "parse_padding", "parse_size", "parse_shape", "per_axis",
           "expand_axes"]

_SPLIT = re.compile(r"[,x×X]")
_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[a-wyz]")  # x separates values


def parse_ints(text: str, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """``'1,3,32,32'``, ``'32x32'`` or ``'32 × 32'`` -> ints (rule 1).

    Args:
        text: the text; ``,``, ``x`` or ``×`` separate the values.
        name: the flag or parameter, as the user wrote it (``'--input'``, ``'k'``).
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


def parse_int(text: str, name: str) -> int:
    """One positive int.

    >>> parse_int(" 4 ", "g")
    4
    >>> parse_int("2x2", "g")
    Traceback (most recent call last):
    ...
    ValueError: `g` (='2x2') must be one positive int
    """
    text = str(text).strip()
    if not _DIGITS.fullmatch(text) or int(text) < 1:
        raise ValueError(f"`{name}` (={text!r}) must be one positive int")
    return int(text)


def per_axis(values: tuple[int, ...]) -> int | tuple[int, ...]:
    """A single value stands for every axis (rule 2): ``(3,)`` -> ``3``.

    >>> per_axis((3,)), per_axis((3, 5))
    (3, (3, 5))
    """
    return values[0] if len(values) == 1 else values


def expand_axes(text: str, name: str, n: int, allow_zero: bool = False) -> tuple[int, ...]:
    """A per-axis value as exactly ``n`` values (one value stands for every axis, rule 2).

    >>> expand_axes("3", "--kernel-size", 2), expand_axes("3x5", "--kernel-size", 2)
    ((3, 3), (3, 5))
    """
    values = parse_ints(text, name, allow_zero)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        rule = f"1 value or {n}, one per axis" if n > 1 else "1 value, like `--input`"
        raise ValueError(f"`{name}` (={text!r}) must have {rule}")
    return values


def parse_padding(text: str, name: str = "padding") -> Any:
    """A padding word or per-axis non-negative ints (rule 3), as ConvSpec takes it.

    >>> parse_padding(" Causal ", "--padding"), parse_padding("1", "--padding")
    ('causal', 1)
    >>> parse_padding("1,-1", "--padding")
    Traceback (most recent call last):
    ...
    ValueError: `--padding` (='1,-1') must be comma- or x-separated non-negative ints
    >>> parse_padding("smae", "--padding")
    Traceback (most recent call last):
    ...
    ValueError: `--padding` (='smae') must be one of 'valid', 'same', 'full', 'causal' or \
comma- or x-separated non-negative ints (did you mean 'same'?)
    """
    word = str(text).strip().lower()
    if word in PADDING_STRINGS:
        return word
    if not _LETTERS.search(word):  # numbers: the ints' own message
        return per_axis(parse_ints(text, name, allow_zero=True))
    raise ValueError(
        f"`{name}` (={text!r}) must be one of " + ", ".join(repr(w) for w in PADDING_STRINGS)
        + " or comma- or x-separated non-negative ints" + did_you_mean(word, PADDING_STRINGS))


def parse_size(text: str, name: str, channels: int | None = None,
               channels_name: str = "--in", one_sample: bool = False
               ) -> tuple[tuple[int, ...], int | None, int | None]:
    """An input size (rule 4): the spatial size, or the whole shape ``N,C,*spatial`` when
    written with commas and at least 3 values.

    Returns ``(spatial, batch, channels)``; ``batch`` and ``channels`` are None for the
    spatial form. A shape whose C differs from ``channels`` (given by ``channels_name``) is
    refused, and with ``one_sample`` (an animation draws one) a shape whose N is not 1.

    >>> parse_size("56x56", "--input"), parse_size("2,64,56,56", "--input", 64)
    (((56, 56), None, None), ((56, 56), 2, 64))
    >>> parse_size("1,3,56,56", "--input", 64)
    Traceback (most recent call last):
    ...
    ValueError: `--input` (='1,3,56,56') has C=3 where `--in` is 64
    >>> parse_size("3,4,4", "input", one_sample=True)
    Traceback (most recent call last):
    ...
    ValueError: `input` (='3,4,4') must have N=1: an animation draws one sample (a 3-D \
spatial size is written 3x4x4)
    """
    values = parse_ints(text, name)
    if "," not in str(text) or len(values) < 3:
        return values, None, None
    if len(values) > 5:
        raise ValueError(f"`{name}` (={text!r}) must be the spatial size (like 56x56) or "
                         "N,C,*spatial with 1 to 3 spatial sizes")
    batch, given, *spatial = values
    if one_sample and batch != 1:
        raise ValueError(f"`{name}` (={text!r}) must have N=1: an animation draws one sample "
                         f"(a {len(values)}-D spatial size is written "
                         f"{'x'.join(map(str, values))})")
    if channels is not None and given != channels:
        raise ValueError(f"`{name}` (={text!r}) has C={given} where `{channels_name}` is "
                         f"{channels}")
    return tuple(spatial), batch, given


def parse_shape(text: str, name: str, spatial_dims: tuple[int, int] | None = None,
                allow_zero: bool = False) -> tuple[int, ...]:
    """An input shape (rule 5): ``N,C,*spatial``, with ``spatial_dims`` = ``(fewest, most)``
    spatial sizes when the reader needs them (None: any rank).

    >>> parse_shape("2x3x16x16", "--input", (1, 3))
    (2, 3, 16, 16)
    >>> parse_shape("1,3", "--input", (1, 3))
    Traceback (most recent call last):
    ...
    ValueError: `--input` (='1,3') must be N,C,*spatial with 1 to 3 spatial sizes, e.g. 1,3,32,32
    """
    shape = parse_ints(text, name, allow_zero)
    if spatial_dims is not None and not 2 + spatial_dims[0] <= len(shape) <= 2 + spatial_dims[1]:
        lo, hi = spatial_dims
        raise ValueError(f"`{name}` (={text!r}) must be N,C,*spatial with {lo} to {hi} spatial "
                         "sizes, e.g. 1,3,32,32")
    return shape
