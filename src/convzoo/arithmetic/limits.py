"""One size guard for everything that allocates: ConvSpec (hence every layer), the NumPy
reference engine and the traced summaries.

The limit is ``min(2**33, physical memory / 16)`` elements: 2**33 float32 elements are
32 GiB, and 16 bytes per element leaves room for a float64 copy of the largest tensor. A
request above it is almost certainly a typo (``padding=10**6``, ``stride=10**7``, a
``1e9 x 1e9`` input) and is refused with a ``ValueError`` before anything is allocated.
Override it with :func:`set_max_elements` or the ``CONVZOO_MAX_ELEMENTS`` environment
variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from convzoo.arithmetic.tuples import check_int

__all__ = ["DEFAULT_MAX_ELEMENTS", "memory_bytes", "max_elements", "set_max_elements",
           "check_elements"]

_CAP = 2**33
_override: int | None = None


def memory_bytes() -> int | None:
    """Physical memory of this machine in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _default() -> int:
    memory = memory_bytes()
    return min(_CAP, memory // 16) if memory else _CAP


#: The limit on this machine without an override.
DEFAULT_MAX_ELEMENTS = _default()


def max_elements() -> int:
    """The current limit: :func:`set_max_elements`, else ``CONVZOO_MAX_ELEMENTS``, else
    :data:`DEFAULT_MAX_ELEMENTS`."""
    if _override is not None:
        return _override
    env = os.environ.get("CONVZOO_MAX_ELEMENTS")
    if env:
        try:
            return check_int("CONVZOO_MAX_ELEMENTS", int(env))
        except ValueError:
            raise ValueError(
                f"`CONVZOO_MAX_ELEMENTS` (={env!r}) must be a positive int") from None
    return DEFAULT_MAX_ELEMENTS


def set_max_elements(limit: int | None) -> None:
    """Set the limit for this process (None restores the default).

    >>> set_max_elements(10); max_elements()
    10
    >>> set_max_elements(None); max_elements() == DEFAULT_MAX_ELEMENTS
    True
    """
    global _override
    _override = None if limit is None else check_int("limit", limit)


def check_elements(what: str, shape: Sequence[int]) -> int:
    """The element count of ``shape``; ValueError when it is above :func:`max_elements`.

    >>> check_elements("the output", (2, 3))
    6
    >>> set_max_elements(100)
    >>> check_elements("the padded input", (1, 3, 10, 10))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the padded input of shape (1, 3, 10, 10) would have 300 elements, more ...
    >>> set_max_elements(None)
    """
    count = math.prod(int(v) for v in shape)
    limit = max_elements()
    if count > limit:
        raise ValueError(
            f"{what} of shape {tuple(int(v) for v in shape)} would have {count} elements, more "
            f"than the limit of {limit} (convzoo.arithmetic.set_max_elements or "
            "CONVZOO_MAX_ELEMENTS raise it)")
    return count
