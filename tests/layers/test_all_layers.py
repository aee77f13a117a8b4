"""Every registered layer, every example: the checks every convzoo layer must pass.

forward, specs() vs parameters, docs, gradcheck (float64), state_dict round trip,
channels_last, empty batch, unbatched input, torch.export.
"""

import copy
import inspect

import pytest
import torch
import torch.nn as nn
from tests.layers.registry_cases import all_examples, build

from convzoo.layers import REGISTRY
from convzoo.layers.base import Conv
from convzoo.layers.transposed import TransposedConv

CASES = all_examples()


def _input(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype)


def _conv_params(module: nn.Module) -> int:
    """Parameters held by convzoo convolutions (norm layers excluded)."""
    return sum(p.numel() for m in module.modules() if isinstance(m, (Conv, TransposedConv))
               for p in m.parameters(recurse=False))


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_forward_specs_and_docs(kind, index, shape):
    m, shape = build(kind, index)
    y = m(_input(shape))
    assert torch.isfinite(y).all() and y.shape[0] == shape[0]
    specs = m.specs()
    assert sum(s.params for s in specs) == _conv_params(m)
    cls = REGISTRY[kind].cls
    doc = inspect.getdoc(cls) or ""
    assert "Shape" in doc and ">>>" in doc, f"{cls.__name__} docstring needs Shape and a doctest"
    assert m.extra_repr() or list(m.children()), "a useful repr"


def _randomize_norms(module: nn.Module) -> None:
    """Random BatchNorm statistics and affine parameters. With the defaults (beta = 0, mean
    = 0) a ReLU after conv(relu(...)) sees exact zeros wherever its inputs are all clipped,
    and finite differences straddle the kink there."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                for t in (m.running_mean, m.weight, m.bias):
                    t.copy_(torch.rand(t.shape, generator=g, dtype=t.dtype) + 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g,
                                               dtype=m.running_var.dtype) + 0.5)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_gradcheck_float64(kind, index, shape):
    m, shape = build(kind, index)
    m = m.double()
    _randomize_norms(m)
    x = _input(shape, torch.float64).requires_grad_(True)
    params = [p for p in m.parameters() if p.requires_grad]

    def fn(inp, *ps):
        return torch.func.functional_call(m, dict(zip([n for n, p in m.named_parameters()
                                                       if p.requires_grad], ps)), (inp,))

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-5, nondet_tol=0.0)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_state_dict_round_trip(kind, index, shape):
    m, shape = build(kind, index)
    other = copy.deepcopy(m)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    x = _input(shape)
    if any(True for _ in m.parameters()):
        assert not torch.allclose(other(x), m(x))
    other.load_state_dict(m.state_dict())
    torch.testing.assert_close(other(x), m(x))


@pytest.mark.parametrize("kind, index, shape", [c for c in CASES if len(c.values[2]) in (4, 5)])
def test_channels_last_input(kind, index, shape):
    m, shape = build(kind, index)
    x = _input(shape)
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    torch.testing.assert_close(m(x.to(memory_format=fmt)), m(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_empty_batch(kind, index, shape):
    m, shape = build(kind, index)
    expected = m(_input(shape)).shape[1:]
    y = m(_input((0, *shape[1:])))
    assert y.shape == (0, *expected)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_unbatched_input_equals_batched_or_is_refused_clearly(kind, index, shape):
    m, shape = build(kind, index)
    x = _input(shape)
    try:
        y = m(x[0])
    except ValueError as e:
        assert "`input`" in str(e) and "shape" in str(e)
        return
    torch.testing.assert_close(y, m(x)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind, index, shape", CASES)
def test_torch_export_matches_eager(kind, index, shape):
    m, shape = build(kind, index)
    x = _input(shape)
    exported = torch.export.export(m, (x,))
    torch.testing.assert_close(exported.module()(x), m(x))


def test_every_kind_has_examples_and_a_factory_entry():
    import convzoo

    assert set(convzoo.available()) == set(REGISTRY)
    assert len(REGISTRY) >= 18
    for kind, entry in REGISTRY.items():
        assert entry.examples(), kind
