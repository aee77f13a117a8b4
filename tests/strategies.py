"""Hypothesis strategies shared by the tests: random convolution configurations."""

from __future__ import annotations

from hypothesis import strategies as st

from convzoo import ConvSpec
from convzoo.arithmetic import effective_kernel


@st.composite
def conv_configs(draw, transposed: bool | None = None, max_dims: int = 3, small: bool = True):
    """A valid (ConvSpec, input_shape) pair: dims 1-3, groups, stride, dilation, padding."""
    n = draw(st.integers(1, max_dims))
    is_t = draw(st.booleans()) if transposed is None else transposed
    g = draw(st.integers(1, 3))
    cin = g * draw(st.integers(1, 2 if small else 4))
    cout = g * draw(st.integers(1, 2 if small else 4))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    if is_t:
        pad = tuple(draw(st.integers(0, 2)) for _ in range(n))
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        spatial = tuple(draw(st.integers(1, 6)) for _ in range(n))
        # the uncropped output must leave something after cropping
        pad = tuple(
            min(p, ((i - 1) * si + effective_kernel(ki, di) + o - 1) // 2)
            for p, i, si, ki, di, o in zip(pad, spatial, s, k, d, op)
        )
        spec = ConvSpec(cin, cout, k, s, pad, d, g, draw(st.booleans()), True, op, ndim=n)
    else:
        mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
        pad_kind = draw(st.sampled_from(["int", "pairs", "same", "valid", "full"]))
        if pad_kind == "int":
            padding = tuple(draw(st.integers(0, 2)) for _ in range(n))
        elif pad_kind == "pairs":
            padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(n))
        else:
            padding = pad_kind
        spec = ConvSpec(cin, cout, k, s, padding, d, g, draw(st.booleans()), False, 0, mode, n)
        lows = []
        for ki, di, pair in zip(k, d, spec.resolved_padding((64,) * n)):
            need = max(effective_kernel(ki, di) - sum(pair), 1)
            if mode in ("reflect", "circular"):
                need = max(need, max(pair) + 1)
            lows.append(need)
        spatial = tuple(draw(st.integers(lo, lo + 6)) for lo in lows)
        if padding == "same" and mode != "zeros":  # 'same' padding grows with the input size
            spatial = tuple(
                max(i, 2 * effective_kernel(ki, di)) for i, ki, di in zip(spatial, k, d)
            )
    batched = draw(st.booleans())
    shape = ((draw(st.integers(1, 2)),) if batched else ()) + (cin, *spatial)
    return spec, shape
