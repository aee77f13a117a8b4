"""Zero-size transposed-convolution outputs: which ones PyTorch returns, which it refuses,
and ConvSpec / ``convzoo.arithmetic`` / the reference engine against each (hypothesis sweep).

PyTorch (2.13) has three answers, all checked here on every drawn case:

* its shape function (``meta`` tensors, ``torch.export``): a zero-size axis is returned when
  another spatial axis is not empty; an output empty along every axis, or a negative size,
  is refused. **ConvSpec follows this one exactly.**
* CPU with oneDNN (its transposed kernel, chosen for float32): also returns an output empty
  along every axis;
* CPU's slow kernels (float64, among others): refuse any zero-size axis.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convzoo import reference as ref
from convzoo.spec import ConvSpec

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _torch_shape(x, w, stride, padding, output_padding, groups, dilation):
    try:
        y = _CONV_T[x.dim() - 2](x, w, None, stride, padding, output_padding, groups, dilation)
    except RuntimeError:
        return None
    return tuple(y.shape)


def _uses_onednn(x, w, stride, padding, output_padding, groups, dilation) -> bool:
    backend = torch._C._select_conv_backend(x, w, None, list(stride), list(padding),
                                            list(dilation), True, list(output_padding), groups,
                                            None)
    # oneDNN's transposed backend has no Python name in 2.13; the slow ones do
    return backend not in (torch._C._ConvBackend.SlowTranspose2d,
                           torch._C._ConvBackend.SlowTranspose3d)


@st.composite
def transposed_cases(draw):
    n = draw(st.integers(1, 3))
    axes = []
    for _ in range(n):
        i, k, s, d = (draw(st.integers(1, 3)), draw(st.integers(1, 4)),
                      draw(st.integers(1, 3)), draw(st.integers(1, 2)))
        p, o = draw(st.integers(0, 3)), draw(st.integers(0, max(s, d) - 1))
        axes.append((i, k, s, p, d, o))
    g = draw(st.integers(1, 3))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    return axes, g, cin, cout, draw(st.sampled_from([torch.float32, torch.float64]))


@settings(max_examples=300, deadline=None)
@given(transposed_cases())
def test_zero_size_transposed_outputs_follow_torch(case):
    axes, g, cin, cout, dtype = case
    sizes = [(i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, k, s, p, d, o in axes]
    assume(min(sizes) <= 0 or len(set(sizes)) > 1)  # the cases at the boundary
    ins, ks, ss, ps, ds, ops = (tuple(a[j] for a in axes) for j in range(6))
    args = (ss, ps, ops, g, ds)
    spec = ConvSpec(cin, cout, ks, stride=ss, padding=ps, dilation=ds, groups=g,
                    transposed=True, output_padding=ops)
    try:
        ours = spec.output_shape((2, cin, *ins))
    except ValueError as e:
        ours, message = None, str(e)
    meta = _torch_shape(torch.zeros(2, cin, *ins, device="meta"),
                        torch.zeros(cin, cout // g, *ks, device="meta"), *args)
    assert ours == meta, (case, sizes)  # torch's shape function, exactly
    x, w = torch.zeros(2, cin, *ins, dtype=dtype), torch.zeros(cin, cout // g, *ks, dtype=dtype)
    cpu = _torch_shape(x, w, *args)
    if min(sizes) < 0:
        assert cpu is None and "must be non-negative" in message
    elif max(sizes) == 0:  # empty along every axis: refused, except by oneDNN
        assert "at least one spatial axis" in message
        assert (cpu is not None) == _uses_onednn(x, w, *args)
    elif min(sizes) == 0:  # some axis empty: returned, except by the slow CPU kernels
        assert (cpu == ours) == _uses_onednn(x, w, *args) and (cpu is None) != (cpu == ours)
    else:
        assert cpu == ours
    if ours is not None and min(sizes) == 0:  # the reference engine returns it too
        xr, wr = np.ones(x.shape), np.ones(w.shape)
        assert ref.conv_transpose(xr, wr, None, *args).shape == ours
        assert ref.conv_transpose_scatter(xr, wr, None, *args).shape == ours


def test_the_issue_case_is_returned_on_cpu_and_meta():
    layer = torch.nn.ConvTranspose3d(6, 2, (2, 4, 2), (3, 2, 2), (1, 2, 1), (1, 0, 1), groups=2)
    expected = (1, 2, 1, 0, 1)
    assert tuple(layer(torch.zeros(1, 6, 1, 1, 1)).shape) == expected
    assert tuple(layer.to("meta")(torch.zeros(1, 6, 1, 1, 1, device="meta")).shape) == expected
    assert ConvSpec.from_module(layer).output_shape((1, 6, 1, 1, 1)) == expected


@pytest.mark.parametrize("padding, message", [
    ((1, 2, 1), "transposed convolution output size (=(0, 0, 0)) must be positive along at "
                "least one spatial axis (PyTorch refuses an output empty along every axis)"),
    ((1, 3, 1), "transposed convolution output size (=-2) must be non-negative: padding 3+3 "
                "crops more than the 4 elements produced from input size 1"),
])
def test_refused_transposed_sizes_are_named(padding, message):
    spec = ConvSpec(1, 1, (2, 4, 2), stride=(3, 2, 2), padding=padding, transposed=True)
    with pytest.raises(ValueError) as info:
        spec.output_shape((1, 1, 1, 1, 1))
    assert str(info.value) == message
