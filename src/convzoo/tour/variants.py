"""The tour's variant table: every layer kind built with ``convzoo.create`` for one
configuration, run on a sample input, counted by ``convzoo.analysis`` and compared with the
standard conv of the same in/out channels and kernel (seed 000, section 9, with numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from convzoo.analysis import receptive_field, summary
from convzoo.layers import create

__all__ = ["VariantRow", "VARIANT_CASES", "UPSAMPLING_CASES", "measure_variants"]

C_IN, C_OUT, K, SIZE = 32, 64, 3, 32

#: (label, kind, arguments) built for input (1, C_IN, SIZE, SIZE); the first is the baseline
VARIANT_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("standard 3x3", "conv", dict(in_channels=C_IN, out_channels=C_OUT, kernel_size=K,
                                   padding="same")),
    ("grouped 3x3, g=4", "group", dict(in_channels=C_IN, out_channels=C_OUT, kernel_size=K,
                                       groups=4, padding=1)),
    ("shuffled group 3x3, g=4", "shuffle_group", dict(in_channels=C_IN, out_channels=C_OUT,
                                                      kernel_size=K, groups=4, padding=1)),
    ("depthwise-separable 3x3", "separable", dict(in_channels=C_IN, out_channels=C_OUT,
                                                  kernel_size=K, padding=1)),
    ("flattened 3x3 (Jin et al.)", "flattened", dict(in_channels=C_IN, out_channels=C_OUT,
                                                     kernel_size=K, padding=1)),
    ("spatially separable 3x1 + 1x3, mid 32", "spatially_separable",
     dict(in_channels=C_IN, out_channels=C_OUT, kernel_size=K, mid_channels=C_IN, padding=1)),
    ("dilated 3x3, d=2", "dilated", dict(in_channels=C_IN, out_channels=C_OUT, kernel_size=K,
                                         dilation=2)),
    ("pointwise 1x1", "pointwise", dict(in_channels=C_IN, out_channels=C_OUT)),
    ("depthwise 3x3 (C_out = C_in)", "depthwise", dict(in_channels=C_IN, kernel_size=K,
                                                       padding=1)),
)

#: 2x upsampling from (1, C_IN, SIZE/2, SIZE/2); the first (transposed conv) is the baseline
UPSAMPLING_CASES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("transposed 4x4, s=2", "transposed", dict(in_channels=C_IN, out_channels=C_OUT,
                                               kernel_size=4, stride=2, padding=1)),
    ("sub-pixel 3x3, r=2", "subpixel", dict(in_channels=C_IN, out_channels=C_OUT,
                                            upscale_factor=2, kernel_size=K)),
    ("resize-conv 3x3, x2", "resize_conv", dict(in_channels=C_IN, out_channels=C_OUT,
                                                scale_factor=2, kernel_size=K)),
)


@dataclass(frozen=True)
class VariantRow:
    """One variant's numbers and its ratios to the group's baseline."""

    label: str
    kind: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    receptive_field: int | Any
    params_ratio: float
    macs_ratio: float


def measure_variants(
    cases: tuple[tuple[str, str, dict[str, Any]], ...], input_shape: tuple[int, ...]
) -> list[VariantRow]:
    """Build each case, run it on a random input, count it; ratios to the first case.

    >>> rows = measure_variants(VARIANT_CASES[:4], (1, 32, 32, 32))
    >>> [(r.kind, r.output_shape, round(r.macs_ratio, 3)) for r in rows][:2]
    [('conv', (1, 64, 32, 32), 1.0), ('group', (1, 64, 32, 32), 0.25)]
    """
    rows: list[VariantRow] = []
    x = torch.randn(input_shape)
    for label, kind, arguments in cases:
        module = create(kind, **arguments).eval()
        with torch.no_grad():
            out = tuple(module(x).shape)
        counted = summary(module, input_shape)
        rf = receptive_field(module, input_shape).fields[0].size
        base = rows[0] if rows else None
        params, macs = counted.totals.params, counted.totals.macs
        rows.append(VariantRow(
            label, kind, tuple(input_shape), out, params, macs, rf,
            params / base.params if base else 1.0, macs / base.macs if base else 1.0,
        ))
    return rows
