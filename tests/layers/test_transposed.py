"""Transposed conv vs the NumPy reference, nn.ConvTransposeNd (output_size included), the
zero-insertion construction of the docstring, and the adjoint identity."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.torch_oracle import F_CONV, NN_CONV_T, param_gradcheck

from convzoo import reference as ref
from convzoo.arithmetic import effective_kernel, transposed_output_range
from convzoo.layers import (
    Conv,
    TransposedConv,
    TransposedConv1d,
    TransposedConv2d,
    TransposedConv3d,
)


def zero_insertion(x, w, b, stride, pads, output_padding, groups, dilation):
    """Fractionally strided conv from its description: insert s-1 zeros between input
    elements, pad by d(k-1)-p (crop when negative), add output_padding on the right, and run
    a stride-1 conv with the flipped, channel-swapped kernel."""
    n = x.dim() - 2
    k = w.shape[2:]
    nb, cin = x.shape[:2]
    cout = w.shape[1] * groups
    up = x.new_zeros(nb, cin, *((i - 1) * s + 1 for i, s in zip(x.shape[2:], stride, strict=True)))
    up[(slice(None), slice(None), *(slice(None, None, s) for s in stride))] = x
    flat = []
    for a in reversed(range(n)):
        edge = dilation[a] * (k[a] - 1)
        flat += [edge - pads[a][0], edge - pads[a][1] + output_padding[a]]
    up = F.pad(up, flat)  # negative entries crop
    wg = w.reshape(groups, cin // groups, cout // groups, *k).transpose(1, 2)
    wg = wg.reshape(cout, cin // groups, *k).flip(list(range(2, 2 + n)))
    return F_CONV[n](up, wg, b, 1, 0, dilation, groups)


@st.composite
def configs(draw):
    n = draw(st.integers(1, 3))
    g = draw(st.integers(1, 2))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 2)) for _ in range(n))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(n))
    p = tuple(
        draw(st.integers(0, min(2, ((i - 1) * si + effective_kernel(ki, di) - 1) // 2)))
        for i, si, ki, di in zip(spatial, s, k, d, strict=True)
    )
    op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d, strict=True))
    batch = draw(st.integers(1, 2))
    return n, g, cin, cout, k, s, p, op, d, draw(st.booleans()), (batch, cin, *spatial)


@given(configs())
@settings(max_examples=50)
def test_transposed_matches_reference_torch_and_zero_insertion(config):
    n, g, cin, cout, k, s, p, op, d, bias, shape = config
    layer = TransposedConv(cin, cout, k, s, p, op, g, bias, d, ndim=n).double()
    x = torch.randn(shape, dtype=torch.float64)
    y = layer(x).detach()
    w = layer.weight.detach()
    b = layer.bias.detach() if bias else None
    expected = ref.conv_transpose(x.numpy(), w.numpy(), None if b is None else b.numpy(),
                                  stride=s, padding=p, output_padding=op, groups=g, dilation=d)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)
    native = NN_CONV_T[n](cin, cout, k, s, p, op, g, bias, d).double()
    native.load_state_dict(layer.state_dict())
    torch.testing.assert_close(y, native(x).detach())
    pads = tuple((pi, pi) for pi in p)
    torch.testing.assert_close(y, zero_insertion(x, w, b, s, pads, op, g, d))


@given(configs(), st.data())
@settings(max_examples=30)
def test_output_size_matches_torch(config, data):
    n, g, cin, cout, k, s, p, _, d, bias, shape = config
    reachable = [
        transposed_output_range(i, ki, si, pi, di)
        for i, ki, si, pi, di in zip(shape[2:], k, s, p, d, strict=True)
    ]
    target = tuple(data.draw(st.sampled_from(list(r))) for r in reachable)
    x = torch.randn(shape, dtype=torch.float64)
    at_call = TransposedConv(cin, cout, k, s, p, groups=g, bias=bias, dilation=d, ndim=n).double()
    stored = TransposedConv(cin, cout, k, s, p, groups=g, bias=bias, dilation=d, ndim=n,
                            output_size=target).double()
    stored.load_state_dict(at_call.state_dict())
    native = NN_CONV_T[n](cin, cout, k, s, p, 0, g, bias, d).double()
    native.load_state_dict(at_call.state_dict())
    # torch.nn's ConvTranspose rejects target sizes its (stride-only) range check misses when
    # dilation > stride; compare with it only where it accepts the target
    want = native(x, output_size=list(target)).detach() if all(
        di <= si for di, si in zip(d, s, strict=True)) else None
    for y in (at_call(x, target), stored(x), at_call(x, (*shape[:2], *target))):
        assert y.shape[2:] == target
        if want is not None:
            torch.testing.assert_close(y.detach(), want)
    torch.testing.assert_close(stored(x).detach(), at_call(x, target).detach())


@given(configs())
@settings(max_examples=30)
def test_transpose_is_the_adjoint_of_conv(config):
    """<conv(x), y> = <x, conv_transpose(y)> with the same weight: a transpose, not an inverse."""
    n, g, cin, cout, k, s, p, _, d, _, shape = config
    spatial = tuple(  # big enough for the forward conv
        max(i, effective_kernel(ki, di) - 2 * pi)
        for i, pi, ki, di in zip(shape[2:], p, k, d, strict=True)
    )
    shape = (*shape[:2], *spatial)
    conv = Conv(cin, cout, k, s, p, d, g, bias=False, ndim=n).double()
    up = TransposedConv(cout, cin, k, s, p, groups=g, bias=False, dilation=d, ndim=n,
                        output_size=spatial).double()
    with torch.no_grad():
        up.weight.copy_(conv.weight)
    x = torch.randn(shape, dtype=torch.float64)
    y = conv(x).detach()
    r = torch.randn_like(y)
    back = up(r).detach()
    assert back.shape == x.shape
    torch.testing.assert_close((y * r).sum(), (x * back).sum())


def test_transpose_is_not_the_inverse():
    conv = Conv(1, 1, 2, stride=2, bias=False).double()
    up = TransposedConv(1, 1, 2, stride=2, bias=False).double()
    with torch.no_grad():
        up.weight.copy_(conv.weight)
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    assert up(conv(x)).shape == x.shape
    assert not torch.allclose(up(conv(x)), x)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize(("k", "s", "d"), [(3, 2, 1), (4, 2, 1), (1, 3, 1), (3, 3, 2), (2, 1, 1)])
def test_same_padding_gives_in_times_stride(n, k, s, d):
    layer = TransposedConv(2, 3, k, stride=s, padding="same", dilation=d, ndim=n).double()
    x = torch.randn(1, 2, *range(2, 2 + n), dtype=torch.float64)
    y = layer(x).detach()
    assert y.shape == (1, 3, *(i * s for i in range(2, 2 + n)))
    sp = layer.spec
    full = zero_insertion(x, layer.weight.detach(), layer.bias.detach(), sp.stride,
                          sp.padding, sp.output_padding, 1, sp.dilation)
    torch.testing.assert_close(y, full)


def test_dimension_subclasses_and_repr():
    assert TransposedConv1d(2, 2, 3)(torch.randn(1, 2, 4)).shape == (1, 2, 6)
    assert TransposedConv3d(2, 2, 2, stride=2)(torch.randn(2, 2, 2, 2, 2)).shape == (2, 2, 4, 4, 4)
    layer = TransposedConv2d(3, 16, 4, stride=2, padding=1)
    assert repr(layer) == (
        "TransposedConv2d(3, 16, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1))"
    )
    assert layer.weight.shape == (3, 16, 4, 4)
    assert layer.specs()[0].kind == "transposed"
    grouped = TransposedConv(4, 2, 3, stride=2, output_padding=1, groups=2, bias=False,
                             dilation=(1, 2), output_size=None)
    assert repr(grouped) == (
        "TransposedConv2d(4, 2, kernel_size=(3, 3), stride=(2, 2), dilation=(1, 2), "
        "output_padding=(1, 1), groups=2, bias=False)"
    )
    sized = TransposedConv2d(16, 3, 3, stride=2, padding=1, output_size=(32, 32))
    assert repr(sized).endswith("output_size=(32, 32))")
    (spec,) = sized.specs((1, 16, 16, 16))
    assert spec.output_padding == (1, 1) and spec.output_shape((1, 16, 16, 16)) == (1, 3, 32, 32)
    assert sized.specs()[0].output_padding == (0, 0)


def test_unbatched_input():
    layer = TransposedConv2d(3, 2, 3, stride=2, output_size=(8, 8))
    x = torch.randn(3, 3, 3)
    y = layer(x)
    assert y.shape == (2, 8, 8)
    torch.testing.assert_close(y, layer(x.unsqueeze(0))[0])


def test_initialisation_matches_torch_bounds():
    layer = TransposedConv2d(4, 6, 3, groups=2)
    bound = 1 / (3 * 3 * 3) ** 0.5  # fan_in = weight.shape[1] * prod(k), as torch
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound


def test_transposed_gradcheck():
    for n in (1, 2, 3):
        layer = TransposedConv(2, 2, 2, stride=2, padding=1, dilation=1, ndim=n,
                               output_size=(3,) * n).double()
        x = torch.randn(1, 2, *([2] * n), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t, mod=layer: mod(t), (x,))
    layer = TransposedConv(4, 2, 3, stride=2, padding="same", groups=2).double()
    assert param_gradcheck(layer, torch.randn(1, 4, 3, 2, dtype=torch.float64))


def test_compiles_without_graph_breaks_with_output_size():
    layer = TransposedConv2d(2, 3, 3, stride=2, padding=1, output_size=(8, 8))
    x = torch.randn(1, 2, 4, 4)
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), layer(x))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TransposedConv(3, 16, 4, stride=2, output_padding=2),
         "`output_padding` (=2) must be smaller than max(`stride`, `dilation`) (=(2, 2)) in "
         "every spatial dimension"),
        (lambda: TransposedConv(3, 16, 3, stride=2, output_padding=1, output_size=(8, 8)),
         "`output_padding` (=1) must be left at 0 when `output_size` is given: it is solved "
         "from the target size"),
        (lambda: TransposedConv(3, 16, 3, output_size=(8, 8, 8)),
         "`output_size` (=(8, 8, 8)) must have 2 spatial sizes (or be a full (N, C, *spatial) "
         "size)"),
        (lambda: TransposedConv(3, 16, 3, output_size=0),
         "`output_size` (=0) must be positive (>= 1) in every spatial dimension"),
        (lambda: TransposedConv(3, 16, 3, padding="full"),
         "`padding` (='full') is not defined for transposed convolutions: use 'valid', 'same' "
         "(output = input * stride), an int, a tuple or (lo, hi) pairs"),
        (lambda: TransposedConv(3, 16, 3, groups=2),
         "`in_channels` (=3) must be divisible by `groups` (=2)"),
    ],
)
def test_transposed_bad_arguments(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_transposed_bad_inputs():
    layer = TransposedConv2d(3, 16, 4, stride=2, padding=1)
    x = torch.randn(2, 3, 16, 16)
    with pytest.raises(ValueError, match=re.escape(
        "`output_size` (=34) is unreachable for input size 16, kernel 4, stride 2, padding "
        "(1, 1), dilation 1: valid sizes are 32..33"
    )):
        layer(x, output_size=(34, 32))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape channel dim (=4) must equal `in_channels` (=3)"
    )):
        layer(torch.randn(2, 4, 16, 16))
    with pytest.raises(ValueError, match=re.escape(
        "`input` shape (=(2, 1, 3, 16, 16)) must be (N, C, *spatial) or (C, *spatial) with 2 "
        "spatial dims"
    )):
        layer(torch.randn(2, 1, 3, 16, 16))
    with pytest.raises(ValueError, match=re.escape(
        "`output_size` (=(1, 2, 3)) must have 2 spatial sizes (or be a full (N, C, *spatial) "
        "size)"
    )):
        layer(x, output_size=(1, 2, 3))
    cropped = TransposedConv1d(1, 1, 1, padding=1)
    with pytest.raises(ValueError, match=re.escape(
        "transposed convolution output size (=-1) must be non-negative: padding 1+1 crops more "
        "than the 1 elements produced from input size 1"
    )):
        cropped(torch.randn(1, 1, 1))


def test_output_size_reaches_targets_whose_base_size_is_zero():
    # k=2, s=3, p=1 on one input element: (1-1)*3 - 2 + 2 = 0 elements before output_padding;
    # torch accepts output sizes 0..2 there and so does convzoo for the positive ones
    up = TransposedConv(1, 1, (2, 1), stride=(3, 1), padding=(1, 0), bias=False).double()
    native = torch.nn.ConvTranspose2d(1, 1, (2, 1), (3, 1), (1, 0), bias=False).double()
    native.load_state_dict(up.state_dict())
    x = torch.randn(1, 1, 1, 1, dtype=torch.float64)
    for target in (1, 2):
        torch.testing.assert_close(up(x, (target, 1)), native(x, output_size=[target, 1]))
    # no target: a zero-size axis, which torch's shape function (meta) returns and its slow
    # float64 CPU kernel refuses; convzoo returns it on every backend, gradient included
    assert tuple(native.to("meta")(x.to("meta")).shape) == (1, 1, 0, 1)
    x.requires_grad_(True)
    y = up(x)
    assert y.shape == (1, 1, 0, 1)
    y.sum().backward()
    assert x.grad is not None and not x.grad.any()
    one = TransposedConv1d(1, 1, 2, stride=3, padding=1)  # empty along its only axis
    with pytest.raises(ValueError, match=re.escape(
            "transposed convolution output size (=(0,)) must be positive along at least one "
            "spatial axis")):
        one(torch.randn(1, 1, 1))


@pytest.mark.parametrize("k,s", [(1, 2), (2, 3), (1, 4), (3, 2)])
def test_same_padding_with_output_size_even_when_kernel_is_shorter_than_stride(k, s):
    # 'same' solves output_padding = s - k > 0 itself; the user left it at 0
    layer = TransposedConv1d(2, 3, k, stride=s, padding="same", output_size=(5 * s,)).double()
    x = torch.randn(1, 2, 5, dtype=torch.float64)
    y = layer(x)
    assert y.shape[-1] == 5 * s
    if k <= s:  # torch's oracle: 'same' crops nothing here, output_size sets the padding
        native = nn.ConvTranspose1d(2, 3, k, stride=s).double()
        with torch.no_grad():
            native.weight.copy_(layer.weight)
            native.bias.copy_(layer.bias)
        torch.testing.assert_close(y, native(x, output_size=[5 * s]))
