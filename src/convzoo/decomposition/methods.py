"""The method registry: name -> its :class:`~convzoo.decomposition.curve.Curve`, and one entry
point to factor a conv by a method at a rank or an energy."""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from convzoo.decomposition import cp, flattened, separable, spatial, svd, tucker
from convzoo.decomposition.curve import Curve
from convzoo.decomposition.factorization import Factorization, check_energy
from convzoo.decomposition.stats import LayerSample
from convzoo.decomposition.target import METHOD_NAMES, Target, refusal

__all__ = ["METHODS", "CURVES", "curve", "factorize", "check_method"]

#: method name -> the module holding its ``full_rank`` and its curve.
METHODS: dict[str, ModuleType] = {
    "separable": separable, "spatially_separable": spatial, "flattened": flattened,
    "cp": cp, "tucker": tucker, "svd": svd,
}

#: method name -> its Curve class.
CURVES: dict[str, type[Curve]] = {
    "separable": separable.SeparableCurve, "spatially_separable": spatial.SpatialCurve,
    "flattened": flattened.FlattenedCurve, "cp": cp.CPCurve, "tucker": tucker.TuckerCurve,
    "svd": svd.SVDCurve,
}


def check_method(method: object, allow_auto: bool = True) -> str:
    """A known method name, or a one-line ValueError listing them.

    >>> check_method("lowrank")
    Traceback (most recent call last):
    ...
    ValueError: `method` (='lowrank') must be one of: separable, spatially_separable, \
flattened, cp, tucker, svd, auto
    """
    names = (*METHOD_NAMES, "auto") if allow_auto else METHOD_NAMES
    if method not in names:
        raise ValueError(f"`method` (={method!r}) must be one of: {', '.join(names)}")
    return str(method)


def curve(target: Target, method: str, input_shape: tuple[int, ...] | None = None,
          sample: LayerSample | None = None, stop: threading.Event | None = None) -> Curve:
    """The ``method``'s curve of ``target`` (its decomposition, computed once).

    Raises:
        ValueError: the method cannot handle this conv (the one-line :func:`refusal`).
    """
    why = refusal(target.spec, method)
    if why is not None:
        raise ValueError(f"layer {target.name!r}: {why}")
    cls = CURVES[method]
    if method in ("cp", "flattened"):
        return cls(target, input_shape, sample, stop)  # type: ignore[call-arg]
    return cls(target, input_shape, sample)  # type: ignore[call-arg]


def factorize(target: Target, method: str, rank: Any = None,
              energy: float | None = None) -> Factorization:
    """Run ``method`` on ``target`` at ``rank`` (or ``energy``, the fraction of the squared
    weight norm kept; both None: full rank, exact).

    Raises:
        ValueError: the method cannot handle this conv (the one-line :func:`refusal`).

    >>> import torch
    >>> from convzoo.decomposition.target import find_targets
    >>> f = factorize(find_targets(torch.nn.Conv2d(4, 6, 3))[0], "tucker", rank=(3, 2))
    >>> [tuple(m.weight.shape) for m in f.module]
    [(2, 4, 1, 1), (3, 2, 3, 3), (6, 3, 1, 1)]
    """
    c = curve(target, method)
    if rank is None:
        rank = c.rank_for_energy(1.0 if energy is None else check_energy(energy))
    return c.build(rank)
