"""Built-in verification: the optimized model against the original on fresh inputs.

The example input is what the graph was planned on; an error there says little about
other inputs. :func:`fresh_input` draws a new input of the example's shape and dtype (values
distributed like the example's), and :func:`max_error` compares any output structure.
A result beyond the pinned tolerance (relative to ``max(1, max |reference|)``) is refused.
"""

from __future__ import annotations

import torch

__all__ = ["BF16_RTOL", "FP32_RTOL", "fresh_input", "max_error", "scale"]

FP32_RTOL = 1e-4  # pinned: |optimized - original| <= FP32_RTOL * max(1, max |original|)
BF16_RTOL = 5e-2  # pinned for precision='bf16' (8-bit mantissa), against the fp32 original


def fresh_input(example: torch.Tensor, seed: int) -> torch.Tensor:
    """A new random input of ``example``'s shape, dtype and device, not the example.

    Floats: normal with the example's mean and standard deviation; integers and booleans:
    uniform over the example's range.

    >>> x = torch.zeros(2, 3)
    >>> y = fresh_input(x, 0); y.shape, y.dtype, bool((y != x).any())
    (torch.Size([2, 3]), torch.float32, True)
    """
    g = torch.Generator().manual_seed(seed)
    if example.dtype.is_floating_point or example.dtype.is_complex:
        ex = example.detach().float()
        std = ex.std().item() if ex.numel() > 1 else 1.0
        std = std if std > 0 and std == std else 1.0
        mean = ex.mean().item() if ex.numel() else 0.0
        y = torch.randn(example.shape, generator=g) * std + mean
    elif example.dtype == torch.bool:
        y = torch.randint(0, 2, example.shape, generator=g).bool()
    else:
        lo = int(example.min()) if example.numel() else 0
        hi = int(example.max()) if example.numel() else 1
        y = torch.randint(lo, max(hi, lo) + 1, example.shape, generator=g)
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
