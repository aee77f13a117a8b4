"""Every registered layer, every example (ids ``<kind>-<index>``, from tests/layers/conftest.py):
the checks every convzoo layer must pass.

forward (finite, nonzero, batch kept), ``specs()`` accounting for every conv parameter,
``extra_repr`` and docstring, float64 gradcheck, state_dict round trip, channels_last,
empty batch, unbatched input. torch.export / ONNX live in test_all_export.py and
torch.compile in test_all_compile.py.
"""

from __future__ import annotations

import copy
import inspect
import re

import pytest
import torch
import torch.nn as nn

import convzoo
from convzoo.layers import REGISTRY
from convzoo.spec import ConvSpec

NORMS = (
    nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.GroupNorm,
    nn.LayerNorm, nn.LocalResponseNorm,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _input(shape, dtype=torch.float32, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype)


def _is_conv(module: nn.Module) -> bool:
    """A convolution: a torch.nn conv, or a module carrying a ConvSpec in ``spec``."""
    return isinstance(module, nn.modules.conv._ConvNd) or isinstance(
        getattr(module, "spec", None), ConvSpec)


def _conv_weights(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """(qualified name, tensor) of every ``weight``/``bias`` parameter held by a conv."""
    return [
        (f"{name}.{pname}" if name else pname, p)
        for name, sub in module.named_modules() if _is_conv(sub)
        for pname, p in sub.named_parameters(recurse=False)
        if pname.endswith(("weight", "bias"))
    ]


def _non_norm_params(module: nn.Module) -> int:
    norm_params = {id(p) for sub in module.modules() if isinstance(sub, NORMS)
                   for p in sub.parameters(recurse=False)}
    return sum(p.numel() for p in module.parameters() if id(p) not in norm_params)


# --- forward, specs, repr, docs -------------------------------------------------------------

def test_forward_is_finite_and_keeps_the_batch(layer_case):
    m = layer_case.build()
    y = m(_input(layer_case.shape))
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert y.dim() == len(layer_case.shape) and y.shape[0] == layer_case.shape[0]
    assert y.numel() > 0 and torch.isfinite(y).all()
    assert y.abs().sum() > 0, "a random layer on a random input gave all zeros"


def test_specs_account_for_every_conv_parameter(layer_case):
    m = layer_case.build()
    for specs in (m.specs(), m.specs(layer_case.shape)):
        assert isinstance(specs, list) and all(isinstance(s, ConvSpec) for s in specs), specs
        weights = _conv_weights(m)
        assert sum(s.params for s in specs) == sum(p.numel() for _, p in weights), (
            [str(s) for s in specs], [(n, tuple(p.shape)) for n, p in weights])
        # the same convolutions, not only the same total: one weight shape per spec
        assert sorted(s.weight_shape for s in specs) == sorted(
            tuple(p.shape) for n, p in weights if n.endswith("weight"))
        assert sum(s.bias for s in specs) == sum(1 for n, _ in weights if n.endswith("bias"))
    # and no parameter outside convs and norms escapes the specs
    assert _non_norm_params(m) == sum(p.numel() for _, p in _conv_weights(m))


def test_extra_repr_is_not_empty(layer_case):
    m = layer_case.build()
    assert m.extra_repr().strip(), f"{type(m).__name__}.extra_repr() is empty"
    assert m.extra_repr() in repr(m)


def test_class_docstring_has_shape_and_a_doctest(layer_kind):
    cls = REGISTRY[layer_kind].cls
    doc = inspect.getdoc(cls) or ""
    assert re.search(r"^\s*Shape\b", doc, flags=re.M), f"{cls.__name__}: no Shape section"
    assert ">>>" in doc, f"{cls.__name__}: no doctest"
    assert REGISTRY[layer_kind].description.strip()
    assert layer_kind in convzoo.available()


# --- autograd ------------------------------------------------------------------------------

def _randomize_norms(module: nn.Module) -> None:
    """Random BatchNorm statistics and affine parameters. With the defaults (beta = 0, mean
    = 0) a ReLU after conv(relu(...)) sees exact zeros wherever its inputs are all clipped,
    and finite differences straddle the kink there."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                for t in (m.running_mean, m.weight, m.bias, m.running_var):
                    if t is not None:
                        t.copy_(torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5)


def test_gradcheck_float64(layer_case):
    m = layer_case.build().double()
    _randomize_norms(m)
    x = _input(layer_case.shape, torch.float64).requires_grad_(True)
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    params = [p for p in m.parameters() if p.requires_grad]

    def fn(inp, *ps):
        return torch.func.functional_call(m, dict(zip(names, ps)), (inp,))

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-5, nondet_tol=0.0)


# --- state, layouts, batch forms -----------------------------------------------------------

def test_state_dict_round_trip(layer_case):
    m = layer_case.build()
    other = copy.deepcopy(m)
    with torch.no_grad():  # every saved float tensor (parameters, persistent buffers) moved
        for t in other.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t) + 0.5)
    x = _input(layer_case.shape)
    state = m.state_dict()
    assert list(other.state_dict()) == list(state)
    if any(t.is_floating_point() for t in state.values()):
        assert not torch.allclose(other(x), m(x)), "perturbing the state changed nothing"
    result = other.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in other.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
    torch.testing.assert_close(other(x), m(x), rtol=0, atol=0)


def test_channels_last_input_matches_contiguous(layer_spatial_case):
    m = layer_spatial_case.build()
    x = _input(layer_spatial_case.shape)
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    x_cl = x.to(memory_format=fmt)
    assert x_cl.is_contiguous(memory_format=fmt) and not x_cl.is_contiguous()
    torch.testing.assert_close(m(x_cl), m(x), rtol=1e-5, atol=1e-5)


def test_empty_batch_gives_an_empty_output_of_the_right_shape(layer_case):
    m = layer_case.build()
    expected = m(_input(layer_case.shape)).shape[1:]
    y = m(_input((0, *layer_case.shape[1:])))
    assert tuple(y.shape) == (0, *expected)


def test_unbatched_input_equals_batched_or_is_refused_clearly(layer_case):
    m = layer_case.build()
    x = _input(layer_case.shape)
    unbatched = x[0]
    try:
        y = m(unbatched)
    except ValueError as e:  # refused: the message names the argument and the shape given
        message = str(e)
        assert "`input`" in message and str(tuple(unbatched.shape)) in message, message
        return
    assert tuple(y.shape) == tuple(m(x).shape[1:])
    torch.testing.assert_close(y, m(x)[0], rtol=1e-5, atol=1e-5)


def test_every_kind_has_examples_and_a_factory_entry():
    assert set(convzoo.available()) == set(REGISTRY)
    assert {"conv", "pointwise", "depthwise", "separable", "group", "dilated",
            "transposed"} <= set(REGISTRY)
    for kind, entry in REGISTRY.items():
        examples = entry.examples()
        assert examples, kind
        for module, shape in examples:
            assert isinstance(module, entry.cls), (kind, type(module))
            assert all(isinstance(n, int) and n > 0 for n in shape), (kind, shape)


def test_an_integer_input_is_refused_with_a_clear_message(layer_first_case):
    """torch.nn convolutions compute in floating point: an int64 input is a ValueError that
    names the dtype and the fix, not torch's RuntimeError from inside a kernel. Pure
    rearrangements (pixel (un)shuffle, channel shuffle) accept integers, as torch.nn's do."""
    layer = layer_first_case.build()
    x = torch.zeros(layer_first_case.shape, dtype=torch.int64)
    if layer_first_case.kind in ("pixel_shuffle", "pixel_unshuffle", "shuffle"):
        assert layer(x).dtype == torch.int64
        return
    with pytest.raises(ValueError) as info:
        layer(x)
    assert str(info.value) == (
        "`input` (dtype torch.int64) must be a floating-point (or complex) tensor, as torch.nn "
        "convolutions require: convert it first, e.g. x.float()")
