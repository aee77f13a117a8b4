"""Built-in verification: the optimized model against the original on fresh inputs.

The example input is what the graph was planned on; an error there says little about
other inputs. :func:`fresh_input` draws a new input of the example's shape and dtype (values
distributed like the example's), and :func:`compare` compares any output structure leaf by
leaf. A float leaf passes when ``max |optimized - original| <= rtol * max |original| + tiny``
(its own scale: a small output gets a small bound; ``tiny`` is the dtype's smallest normal
number, so an all-zero output must stay zero), NaN at the same places as the original;
``rtol`` depends on the leaf's dtype (:data:`RTOL`): float64 1e-7, float32 1e-4, float16
1e-2, bfloat16 5e-2 (a few units in the last place of each format, since folding and fusing
reorder the sums); ``precision='bf16'`` uses at least :data:`BF16_RTOL`. Integer, boolean and
non-tensor leaves must be equal, except Python floats (``.item()``), held to the float32
bound.
"""

from __future__ import annotations

import re

import torch

__all__ = ["BF16_RTOL", "FP32_RTOL", "RTOL", "compare", "first_line", "fresh_input", "max_error",
           "rtol_for", "scale"]

FP32_RTOL = 1e-4  # pinned: |optimized - original| <= FP32_RTOL * max |original| (+ tiny)
BF16_RTOL = 5e-2  # pinned for precision='bf16' (8-bit mantissa), against the fp32 original
RTOL: dict[torch.dtype, float] = {  # pinned, per output dtype (resolution 2^-52 ... 2^-7)
    torch.float64: 1e-7, torch.float32: FP32_RTOL, torch.float16: 1e-2,
    torch.bfloat16: BF16_RTOL,
}


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an error's text, ANSI colour codes removed, shortened at
    a word boundary to at most ``limit`` characters (for one-line refusals).

    >>> first_line(RuntimeError("\\x1b[31mboom\\x1b[0m: bad\\nmore"))
    'boom: bad'
    >>> first_line(RuntimeError("word " * 100), limit=22)
    'word word word ...'
    """
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(exc))
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    if len(line) > limit:
        line = line[:limit - 4].rsplit(" ", 1)[0] + " ..."
    return line


def fresh_input(example: torch.Tensor, seed: int,
                shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """A new random input of ``example``'s shape (or ``shape``), dtype and device, not the
    example.

    Floats: normal with the example's mean and standard deviation; integers and booleans:
    uniform over the example's range.

    >>> x = torch.zeros(2, 3)
    >>> y = fresh_input(x, 0); y.shape, y.dtype, bool((y != x).any())
    (torch.Size([2, 3]), torch.float32, True)
    """
    g = torch.Generator().manual_seed(seed)
    size = example.shape if shape is None else torch.Size(shape)
    if example.dtype.is_floating_point or example.dtype.is_complex:
        ex = example.detach().float()
        std = ex.std().item() if ex.numel() > 1 else 1.0
        std = std if std > 0 and std == std else 1.0
        mean = ex.mean().item() if ex.numel() else 0.0
        y = torch.randn(size, generator=g) * std + mean
    elif example.dtype == torch.bool:
        y = torch.randint(0, 2, size, generator=g).bool()
    else:
        lo = int(example.min()) if example.numel() else 0
        hi = int(example.max()) if example.numel() else 1
        y = torch.randint(lo, max(hi, lo) + 1, size, generator=g)
    return y.to(dtype=example.dtype, device=example.device)


def max_error(a: object, b: object) -> float:
    """``max |a - b|`` over two outputs of the same structure (tensors, tuples, lists,
    dicts); ``inf`` when the structures, shapes or non-tensor values differ.

    >>> max_error({"y": torch.ones(2)}, {"y": torch.zeros(2)}), max_error((1, 2), (1, 3))
    (1.0, inf)
    """
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return float("inf")
        if a.numel() == 0:
            return 0.0
        if not a.dtype.is_floating_point and not b.dtype.is_floating_point:
            return 0.0 if torch.equal(a, b) else float("inf")
        return (a.double() - b.double()).abs().max().item()
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return float("inf")
        return max((max_error(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max((max_error(a[k], b[k]) for k in a), default=0.0)
    return 0.0 if a == b else float("inf")


def scale(reference: object) -> float:
    """``max(1, max |reference|)`` over every float tensor of an output.

    >>> scale((torch.tensor([-3.0, 2.0]), 7))
    3.0
    """
    if isinstance(reference, torch.Tensor):
        if reference.numel() and reference.dtype.is_floating_point:
            return max(1.0, reference.abs().max().item())
        return 1.0
    if isinstance(reference, (tuple, list)):
        return max((scale(r) for r in reference), default=1.0)
    if isinstance(reference, dict):
        return max((scale(r) for r in reference.values()), default=1.0)
    return 1.0


def rtol_for(dtype: torch.dtype, precision: str = "fp32") -> float:
    """The pinned relative tolerance for an output leaf of ``dtype``.

    >>> rtol_for(torch.float32), rtol_for(torch.float16), rtol_for(torch.float32, "bf16")
    (0.0001, 0.01, 0.05)
    """
    rtol = RTOL.get(dtype, FP32_RTOL)
    return max(rtol, BF16_RTOL) if precision == "bf16" else rtol


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} ({len(text)} characters)"


def compare(got: object, ref: object, precision: str = "fp32",
            path: str = "output") -> tuple[float, float, str | None]:
    """Compare an optimized output with the original's, leaf by leaf.

    Returns:
        ``(max abs error, largest absolute bound, why)``: ``why`` is None when every leaf
        is within its bound, else one line naming the first leaf that differs and how.

    >>> compare((torch.ones(2), 3), (torch.ones(2), 4))[2]
    'output[1]: 3 where the original gives 4'
    >>> compare(torch.tensor([1e-5]), torch.tensor([2e-5]))[2]
    'output: max abs error 1e-05 > tolerance 2e-09 (rtol 0.0001 x max |original| 2e-05)'
    """
    if isinstance(ref, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return float("inf"), 0.0, f"{path}: {_short(got)} where the original gives a tensor"
        if got.shape != ref.shape:
            return float("inf"), 0.0, (f"{path}: shape {tuple(got.shape)} where the original "
                                       f"gives {tuple(ref.shape)}")
        if not ref.dtype.is_floating_point:
            same = got.shape == ref.shape and bool((got.to(ref.dtype) == ref).all())
            if got.dtype != ref.dtype or not same:
                n = int((got.to(ref.dtype) != ref).sum())
                return float("inf"), 0.0, (f"{path}: {n} of {ref.numel()} {ref.dtype} entries "
                                           "differ (integer/boolean outputs must be equal, e.g. "
                                           "an argmax flipped by rounding)")
            return 0.0, 0.0, None
        if ref.numel() == 0:
            return 0.0, 0.0, None
        a, b = got.detach().double(), ref.detach().double()
        nan_a, nan_b = a.isnan(), b.isnan()
        if not torch.equal(nan_a, nan_b):
            return float("inf"), 0.0, (f"{path}: NaN at {int(nan_a.sum())} entries where the "
                                       f"original has NaN at {int(nan_b.sum())}")
        a, b = a.masked_fill(nan_b, 0.0), b.masked_fill(nan_b, 0.0)
        inf_b = b.isinf()
        if not torch.equal(a[inf_b], b[inf_b]):
            return float("inf"), 0.0, f"{path}: infinities differ from the original's"
        a, b = a.masked_fill(inf_b, 0.0), b.masked_fill(inf_b, 0.0)
        rtol = rtol_for(ref.dtype, precision)
        top = b.abs().max().item()
        bound = rtol * top + torch.finfo(ref.dtype).tiny
        err = (a - b).abs().max().item()
        if not err <= bound:
            return err, bound, (f"{path}: max abs error {err:.3g} > tolerance {bound:.3g} "
                                f"(rtol {rtol:g} x max |original| {top:.3g})")
        return err, bound, None
    if isinstance(ref, (tuple, list)) or isinstance(ref, dict):
        kind = type(ref).__name__
        keys = list(ref.keys()) if isinstance(ref, dict) else list(range(len(ref)))
        same = isinstance(got, dict) and list(got.keys()) == keys if isinstance(ref, dict) \
            else isinstance(got, (tuple, list)) and len(got) == len(ref)
        if not same:
            return float("inf"), 0.0, (f"{path}: {_short(got)} where the original gives a "
                                       f"{kind} of {len(ref)}")
        err = bound = 0.0
        for k in keys:
            e, t, why = compare(got[k], ref[k], precision, f"{path}[{k!r}]" if isinstance(
                ref, dict) else f"{path}[{k}]")
            if why is not None:
                return e, t, why
            err, bound = max(err, e), max(bound, t)
        return err, bound, None
    if isinstance(ref, float) and isinstance(got, float):  # e.g. ``.item()`` of a float32 sum
        rtol = rtol_for(torch.float32, precision)
        bound = rtol * abs(ref) + torch.finfo(torch.float32).tiny
        err = 0.0 if got == ref or (got != got and ref != ref) else abs(got - ref)
        if not err <= bound:
            return err, bound, (f"{path}: {got!r} where the original gives {ref!r} (a Python "
                                f"float, rtol {rtol:g})")
        return err, bound, None
    try:
        same = bool(got == ref)
    except Exception:  # noqa: BLE001 - an object whose == does not give a bool
        same = got is ref
    if not same:
        return float("inf"), 0.0, f"{path}: {_short(got)} where the original gives {_short(ref)}"
    return 0.0, 0.0, None
