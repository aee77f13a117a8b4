"""An independent judge of ``optimize(precision='bf16')``'s stated contract, for the tests.

The contract (docs/performance.md): at an input of regime R, every float output leaf of
the bf16 result has NaN at the same places as the original's, the same infinities, and
``max |result - original| <= BF16_RTOL * max(max |original leaf|, s_R[leaf]) + tiny +
NOISE_FACTOR * own`` over the finite entries, where ``s_R`` is the regime's output scale
(:func:`convzoo.fast.verify.regime_scale`, the only piece taken from convzoo besides the
two pinned constants) and ``own`` the original's own rounding at that input
(``max |original - original in float64|``, when the float64 original is given); other
leaves are equal. Errors, bounds and the leaf walk are computed here, not by
:func:`convzoo.fast.verify.compare`.
"""

from __future__ import annotations

import torch

from convzoo.fast.verify import BF16_RTOL, NOISE_FACTOR

__all__ = ["judge", "leaves"]

TINY = torch.finfo(torch.float32).tiny


def leaves(out: object, path: str = "output") -> list[tuple[str, object]]:
    """``(path, leaf)`` of an output structure, paths named ``output``, ``output[0]``,
    ``output['key']`` (nested alike), as the regime scales name them."""
    if isinstance(out, (tuple, list)):
        return [leaf for i, o in enumerate(out) for leaf in leaves(o, f"{path}[{i}]")]
    if isinstance(out, dict):
        return [leaf for k, o in out.items() for leaf in leaves(o, f"{path}[{k!r}]")]
    return [(path, out)]


def _own(ref: torch.Tensor, exact: object, finite: torch.Tensor) -> float:
    if not isinstance(exact, torch.Tensor) or exact.shape != ref.shape:
        return 0.0
    wide = exact.detach().double()
    both = finite & wide.isfinite()
    if not bool(both.any()):
        return 0.0
    return (ref.detach().double()[both] - wide[both]).abs().max().item()


def judge(got: object, ref: object, scale: dict[str, float] | None,
          exact: object = None) -> str | None:
    """None when ``got`` (the bf16 result's output) meets the contract against ``ref`` (the
    original's) at an input of the regime whose scales are ``scale`` (``leaf -> s_R``);
    else why not, naming the leaf. ``exact``: the original computed in float64 there."""
    scale = scale or {}
    mine, theirs = leaves(got), leaves(ref)
    if [p for p, _ in mine] != [p for p, _ in theirs]:
        return f"structure {[p for p, _ in mine]} where the original has {[p for p, _ in theirs]}"
    wide = dict(leaves(exact)) if exact is not None else {}
    for (path, a), (_, b) in zip(mine, theirs):
        if isinstance(b, float) and isinstance(a, float):
            if not (a == b or a != a and b != b or abs(a - b) <= BF16_RTOL * abs(b) + TINY):
                return f"{path}: {a!r} where the original gives {b!r}"
            continue
        if not isinstance(b, torch.Tensor):
            if not (a == b):
                return f"{path}: {a!r} where the original gives {b!r}"
            continue
        if not isinstance(a, torch.Tensor) or a.shape != b.shape:
            return f"{path}: {type(a).__name__} where the original gives shape {tuple(b.shape)}"
        if not b.dtype.is_floating_point:
            if a.dtype != b.dtype or not torch.equal(a, b):
                return f"{path}: integer or boolean entries differ"
            continue
        x, y = a.detach().double(), b.detach().double()
        if not torch.equal(x.isnan(), y.isnan()):
            return f"{path}: NaN at {int(x.isnan().sum())} places, the original at " \
                   f"{int(y.isnan().sum())}"
        infinite = y.isinf()
        if not torch.equal(x[infinite], y[infinite]):
            return f"{path}: infinities differ"
        finite = y.isfinite()
        if not bool(finite.any()):
            continue
        err = (x[finite] - y[finite]).abs().max().item()
        top = y[finite].abs().max().item()
        s = scale.get(path, 0.0)
        own = _own(b, wide.get(path), finite)
        bound = BF16_RTOL * max(top, s) + TINY + NOISE_FACTOR * own
        if not err <= bound:
            return (f"{path}: bf16 error {err:.3g} > its stated bound {bound:.3g} "
                    f"({BF16_RTOL:g} x max(max |original| {top:.3g}, s_R {s:.3g})"
                    f" + {NOISE_FACTOR:g} x own rounding {own:.3g})")
    return None
