"""The inputs ``optimize`` verifies a result on: several regimes, not only the example's.

A rewrite can be exact on inputs like the example and wrong elsewhere: an FFT's rounding
grows with the whole image's magnitude, a backend drops NaN in a reduction, a forward
branches on ``torch.compiler.is_exporting()``. :func:`regimes` draws one input per regime,
each of the example's shape, dtype, device and strides:

- ``like``: normal, with the mean and standard deviation of the example's finite values;
- ``image``: integers 0-255 (as floats) with large zero regions (letterbox bands across
  the first spatial axis and a zero block, the way padded photos look);
- ``gray``: the same, with every channel nearly equal (one image plus or minus 2): the
  channels of natural photos are strongly correlated, and an op normalizing across
  channels (a per-pixel LayerNorm) divides by their tiny spread there;
- ``large`` and ``small``: normal at magnitude 1e4 and 1e-4 (1e2 and 1e-2 for float16,
  whose range would overflow);
- ``nonfinite``: like ``like``, with NaN, +Inf and -Inf at a few places of the first
  sample (NaN semantics are part of equality).

Integer and boolean inputs get ``like`` only (uniform over the example's range). An
example with no finite value cannot seed finite inputs: :func:`finite_statistics` says so
and ``optimize`` refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["REGIMES", "Regime", "finite_statistics", "magnitudes", "regimes"]

REGIMES: dict[str, str] = {  # name -> how refusals and reports say it
    "example": "the example",
    "like": "an input drawn like the example",
    "image": "an image-like input (0-255 with zero regions)",
    "gray": "a gray image-like input (0-255, channels nearly equal, zero regions)",
    "large": "a large-magnitude input",
    "small": "a small-magnitude input",
    "nonfinite": "an input holding NaN and +-Inf",
}


@dataclass(frozen=True)
class Regime:
    """One verification input.

    Attributes:
        name: a key of :data:`REGIMES`. input: the tensor.
    """

    name: str
    input: torch.Tensor

    @property
    def said(self) -> str:
        """How a message names it."""
        return REGIMES[self.name]


def magnitudes(dtype: torch.dtype) -> tuple[float, float]:
    """``(large, small)`` magnitudes of the ``large``/``small`` regimes for ``dtype``.

    >>> magnitudes(torch.float32), magnitudes(torch.float16)
    ((10000.0, 0.0001), (100.0, 0.01))
    """
    return (1e2, 1e-2) if dtype == torch.float16 else (1e4, 1e-4)


def finite_statistics(example: torch.Tensor) -> tuple[float, float] | None:
    """``(mean, std)`` of the example's finite values (std 1 when they do not vary), or
    None when a floating example holds no finite value.

    >>> finite_statistics(torch.tensor([1.0, float("nan"), 3.0]))
    (2.0, 1.4142135381698608)
    >>> finite_statistics(torch.full((2,), float("nan"))) is None
    True
    """
    values = example.detach().reshape(-1).to("cpu", torch.float64 if example.dtype ==
                                              torch.float64 else torch.float32)
    values = values[values.isfinite()]
    if values.numel() == 0:
        return None if example.numel() else (0.0, 1.0)
    mean = values.mean().item()
    std = values.std().item() if values.numel() > 1 else 1.0
    return mean, std if std > 0 and std == std else 1.0


def _zero_regions(x: torch.Tensor) -> torch.Tensor:
    """Zero letterbox bands (the first and last 30 % along the first spatial axis) and a
    block (the first 30 % of the last axis in the middle band), in place."""
    if x.dim() == 0:
        return x
    axis = 2 if x.dim() >= 3 else x.dim() - 1
    n = x.shape[axis]
    band = max(1, (3 * n) // 10) if n >= 2 else 0
    if band:
        x.narrow(axis, 0, band).zero_()
        x.narrow(axis, n - band, band).zero_()
    if x.dim() >= 4 and n > 2 * band:
        last = x.shape[-1]
        x.narrow(axis, band, n - 2 * band).narrow(-1, 0, max(1, (3 * last) // 10)).zero_()
    return x


def _gray(shape: torch.Size, g: torch.Generator) -> torch.Tensor:
    """Integers 0-255, channels (axis 1) equal to one image plus or minus 2."""
    if len(shape) < 2:
        return torch.randint(0, 256, shape, generator=g).double()
    one = torch.randint(2, 254, (shape[0], 1, *shape[2:]), generator=g)
    return (one + torch.randint(-2, 3, shape, generator=g)).double()


def _like_layout(example: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``values`` in a tensor with the example's dtype, device, strides and
    ``requires_grad`` (a forward may branch on either); at another shape: the example's
    memory format, channels_last or contiguous."""
    if values.shape == example.shape:
        out = torch.empty_like(example, memory_format=torch.preserve_format)
    else:
        last = (example.dim() == 4 and values.dim() == 4 and not example.is_contiguous()
                and example.is_contiguous(memory_format=torch.channels_last))
        out = torch.empty(values.shape, dtype=example.dtype, device=example.device)
        if last:
            out = out.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out.copy_(values)
    return out.requires_grad_(example.requires_grad)


def regimes(example: torch.Tensor, seed: int,
            shape: tuple[int, ...] | None = None) -> list[Regime]:
    """One fresh input per regime (see the module docstring), seeded; of the example's
    shape, or of ``shape`` (another batch or spatial size, same statistics).

    >>> x = torch.randn(2, 3, 10, 10)
    >>> [(r.name, tuple(r.input.shape)) for r in regimes(x, 0)][:2]
    [('like', (2, 3, 10, 10)), ('image', (2, 3, 10, 10))]
    >>> img = regimes(x, 0)[1].input
    >>> bool((img[:, :, :3] == 0).all()), float(img.max()) <= 255
    (True, True)
    """
    g = torch.Generator().manual_seed(seed)
    shape = example.shape if shape is None else torch.Size(shape)
    if not (example.dtype.is_floating_point or example.dtype.is_complex):
        if example.dtype == torch.bool:
            y = torch.randint(0, 2, shape, generator=g).bool()
        else:
            lo = int(example.min()) if example.numel() else 0
            hi = int(example.max()) if example.numel() else 1
            y = torch.randint(lo, max(hi, lo) + 1, shape, generator=g)
        return [Regime("like", _like_layout(example, y))]
    stats = finite_statistics(example)
    mean, std = stats if stats is not None else (0.0, 1.0)
    like = torch.randn(shape, generator=g, dtype=torch.float64) * std + mean
    image = _zero_regions(torch.randint(0, 256, shape, generator=g).double())
    gray = _zero_regions(_gray(shape, g))
    large, small = magnitudes(example.dtype)
    nonfinite = torch.randn(shape, generator=g, dtype=torch.float64) * std + mean
    if nonfinite.numel():
        first = nonfinite[0] if nonfinite.dim() else nonfinite
        flat = first.reshape(-1)
        picks = torch.randperm(flat.numel(), generator=g)[:max(3, flat.numel() // 100)]
        for i, p in enumerate(picks.tolist()):
            flat[p] = (float("nan"), float("inf"), float("-inf"))[i % 3]
        first.copy_(flat.reshape(first.shape))
    drawn = {
        "like": like,
        "image": image,
        "gray": gray,
        "large": torch.randn(shape, generator=g, dtype=torch.float64) * large,
        "small": torch.randn(shape, generator=g, dtype=torch.float64) * small,
        "nonfinite": nonfinite,
    }
    return [Regime(name, _like_layout(example, y)) for name, y in drawn.items()]
