"""Flattened, SpatiallySeparable, R2Plus1D and ASPP: reference engine, dense equivalents
(a factorized conv is a rank-constrained dense conv) and explicit torch constructions."""

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import F_CONV

from convzoo import reference as ref
from convzoo.arithmetic import same_padding
from convzoo.layers import ASPP, Flattened, R2Plus1D, SpatiallySeparable
from convzoo.layers.r2plus1d import r2plus1d_mid_channels


def _np(t):
    return None if t is None else t.detach().numpy()


configs = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4),
                    st.sampled_from([0, 1, "same", "valid"]), st.booleans())


@given(configs)
def test_flattened_matches_reference_and_its_dense_conv(config):
    ndim, cin, cout, k, padding, bias = config
    torch.manual_seed(k)
    m = Flattened(cin, cout, k, padding=padding, ndim=ndim, bias=bias).double()
    x = torch.randn(2, cin, *([k + 2] * ndim), dtype=torch.float64)
    lateral = m.lateral.weight.reshape(cout, cin)
    axis_weights = [stage.weight.reshape(cout, k) for stage in m.axes]
    pads = m.axes[0].spec.resolved_padding() if padding != "same" else None
    if padding == "same":
        per_axis = [((k - 1) // 2, k - 1 - (k - 1) // 2)] * ndim
    else:
        per_axis = [(padding, padding) if isinstance(padding, int) else (0, 0)] * ndim
    expected = ref.flattened(x.numpy(), _np(lateral), [_np(w) for w in axis_weights], per_axis,
                             axis_biases=[None] * (ndim - 1) + [_np(m.axes[-1].bias)])
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), expected, atol=1e-10)
    dense, b = m.to_dense()
    flat_pads = [v for pair in reversed(per_axis) for v in pair]
    torch.testing.assert_close(F_CONV[ndim](F.pad(x, flat_pads), dense, b), y)
    # every (o, c) filter is rank one: an outer product of per-axis vectors
    if ndim == 2 and k > 1:
        assert all(torch.linalg.matrix_rank(dense[o, c]) <= 1
                   for o in range(cout) for c in range(cin))
    assert pads is None or len(pads) == ndim


def test_rank_check_can_fail_on_a_dense_kernel():
    assert torch.linalg.matrix_rank(torch.randn(3, 3, dtype=torch.float64)) == 3


@given(configs, st.integers(1, 3))
def test_spatially_separable_matches_reference_and_its_dense_conv(config, mid):
    ndim, cin, cout, k, padding, bias = config
    torch.manual_seed(k + mid)
    m = SpatiallySeparable(cin, cout, k, mid_channels=mid, padding=padding, ndim=ndim,
                           bias=bias).double()
    x = torch.randn(2, cin, *([k + 2] * ndim), dtype=torch.float64)
    if padding == "same":
        pair = ((k - 1) // 2, k - 1 - (k - 1) // 2)
    else:
        pair = (padding, padding) if isinstance(padding, int) else (0, 0)
    biases = [None] * (ndim - 1) + [_np(m.stages[-1].bias)]
    expected = ref.spatially_separable(x.numpy(), [_np(s.weight) for s in m.stages], biases,
                                       [pair] * ndim)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), expected, atol=1e-10)
    dense, b = m.to_dense()
    assert dense.shape == (cout, cin, *([k] * ndim))
    flat = [v for _ in range(ndim) for v in pair]
    torch.testing.assert_close(F_CONV[ndim](F.pad(x, flat), dense, b), y)
    if ndim == 2:  # rank of each (o, c) kernel is at most mid_channels
        assert all(torch.linalg.matrix_rank(dense[o, c]) <= mid
                   for o in range(cout) for c in range(cin))


def test_r2plus1d_mid_channels_rule_matches_the_full_3d_parameter_count():
    for cin, cout, k in [(64, 64, 3), (3, 64, (3, 7, 7)), (128, 256, 3)]:
        m = R2Plus1D(cin, cout, k, norm=None)
        t, kh, kw = (k, k, k) if isinstance(k, int) else k
        full = cout * cin * t * kh * kw
        mid = r2plus1d_mid_channels(cin, cout, k)
        params = sum(s.params for s in m.specs())
        assert params <= full < params + (kh * kw * cin + t * cout)  # within one mid channel
        assert m.spatial.spec.out_channels == mid


@settings(max_examples=20)
@given(st.integers(1, 3), st.integers(1, 2), st.sampled_from([1, 2]))
def test_r2plus1d_matches_explicit_torch(cin, cout, stride):
    torch.manual_seed(cin)
    m = R2Plus1D(cin, cout, (3, 3, 3), stride=stride, mid_channels=2).double().eval()
    m.norm.running_mean.uniform_(-1, 1)
    x = torch.randn(2, cin, 4, 5, 5, dtype=torch.float64)
    y = F.conv3d(x, m.spatial.weight, stride=(1, stride, stride), padding=(0, 1, 1))
    y = F.relu(F.batch_norm(y, m.norm.running_mean, m.norm.running_var, m.norm.weight,
                            m.norm.bias, False, 0.0, m.norm.eps))
    lo, hi = same_padding(4, 3, stride)  # 'same' at stride 2 pads (0, 1): TF/Keras rule
    y = F.conv3d(F.pad(y, (0, 0, 0, 0, lo, hi)), m.temporal.weight, stride=(stride, 1, 1))
    torch.testing.assert_close(m(x), y)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_aspp_matches_explicit_torch(ndim):
    torch.manual_seed(ndim)
    m = ASPP(3, 2, rates=(1, 2), ndim=ndim).double().eval()
    x = torch.randn(2, 3, *([5] * ndim), dtype=torch.float64)
    conv = F_CONV[ndim]

    def bn(t, mod):
        return F.batch_norm(t, mod.running_mean, mod.running_var, mod.weight, mod.bias, False,
                            0.0, mod.eps)

    outs = [F.relu(bn(conv(x, m.branches[0][0].weight), m.branches[0][1]))]
    for r, b in zip((1, 2), m.branches[1:]):
        outs.append(F.relu(bn(conv(x, b[0].weight, padding=r, dilation=r), b[1])))
    pooled = x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    p = F.relu(bn(conv(pooled, m.pool.branch[0].weight), m.pool.branch[1]))
    outs.append(p.expand(-1, -1, *x.shape[2:]))
    expected = F.relu(bn(conv(torch.cat(outs, 1), m.project[0].weight), m.project[1]))
    torch.testing.assert_close(m(x), expected)
    assert len(m.specs()) == 5


def test_aspp_default_rates_receptive_fields_and_shape():
    m = ASPP(8, 4).eval()
    assert m.rates == (6, 12, 18)
    y = m(torch.randn(1, 8, 9, 9))
    assert y.shape == (1, 4, 9, 9)
    assert [s.receptive_field()[0].size for s in m.specs()[1:4]] == [13, 25, 37]


@pytest.mark.parametrize("call, message", [
    (lambda: ASPP(3, 2, rates=()), "`rates` (=()) must be a non-empty sequence of positive ints"),
    (lambda: ASPP(3, 2, rates=(0,)), "`rates` (=(0,)) must be a non-empty sequence of positive"),
    (lambda: Flattened(3, 2, (3, 3, 3)),
     "`kernel_size` (=(3, 3, 3)) must have 2 elements, one per spatial dimension"),
    (lambda: SpatiallySeparable(3, 2, 0),
     "`kernel_size` (=0) must be positive (>= 1) in every spatial dimension"),
    (lambda: R2Plus1D(3, 2, (3, 3)),
     "`kernel_size` (=(3, 3)) must have 3 elements, one per spatial dimension"),
    (lambda: R2Plus1D(3, 2, norm="batch"), "`norm` (='batch') must be None or a class/callable"),
    (lambda: Flattened(3, 2, 3)(torch.ones(1, 4, 5, 5)),
     "`input` shape channel dim (=4) must equal `in_channels` (=3)"),
])
def test_errors_are_pinned(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_modules_are_built_from_convzoo_layers_only():
    from convzoo.layers.base import Conv

    for m in (Flattened(2, 3, 3), SpatiallySeparable(2, 3, 3), R2Plus1D(2, 3), ASPP(2, 2)):
        convs = [c for c in m.modules() if isinstance(c, nn.modules.conv._ConvNd)]
        assert not convs and any(isinstance(c, Conv) for c in m.modules())
