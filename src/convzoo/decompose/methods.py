"""The method registry: name -> (factorize, full_rank), and one entry point to run a method."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from convzoo.decompose import cp, flattened, separable, spatial, tucker
from convzoo.decompose.factorization import Factorization, check_energy
from convzoo.decompose.target import METHOD_NAMES, Target, refusal

__all__ = ["METHODS", "factorize", "check_method"]

#: method name -> the module holding its ``factorize`` and ``full_rank``.
METHODS: dict[str, ModuleType] = {
    "separable": separable, "spatially_separable": spatial, "flattened": flattened,
    "cp": cp, "tucker": tucker,
}


def check_method(method: object, allow_auto: bool = True) -> str:
    """A known method name, or a one-line ValueError listing them.

    >>> check_method("svd")
    Traceback (most recent call last):
    ...
    ValueError: `method` (='svd') must be one of: separable, spatially_separable, \
flattened, cp, tucker, auto
    """
    names = (*METHOD_NAMES, "auto") if allow_auto else METHOD_NAMES
    if method not in names:
        raise ValueError(f"`method` (={method!r}) must be one of: {', '.join(names)}")
    return str(method)


def factorize(target: Target, method: str, rank: Any = None,
              energy: float | None = None) -> Factorization:
    """Run ``method`` on ``target`` at ``rank`` (or ``energy``; both None: full rank).

    Raises:
        ValueError: the method cannot handle this conv (the one-line :func:`refusal`).
    """
    why = refusal(target.spec, method)
    if why is not None:
        raise ValueError(f"layer {target.name!r}: {why}")
    fn: Callable[..., Factorization] = METHODS[method].factorize
    if rank is not None:
        return fn(target, rank=rank)
    return fn(target, energy=1.0 if energy is None else check_energy(energy))
