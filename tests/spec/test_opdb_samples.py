"""PyTorch's own conv sample inputs (op_db) replayed against convzoo.

Every sample of ``nn.functional.conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` is validated
by ``spec_from_call`` (whose output shape must equal torch's) and recomputed by the NumPy
reference engine (float64). Every ``error_inputs`` case is rejected by ``spec_from_call``
with a ValueError, except the one convzoo deliberately extends: padding='same' with a
stride, which convzoo computes with the TensorFlow rule.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing._internal.common_methods_invocations import op_db

from convzoo import reference
from convzoo.arithmetic import resolve_padding
from convzoo.spec import spec_from_call

CONV_OPS = ("conv1d", "conv2d", "conv3d")
TRANSPOSED_OPS = ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
OPS = {o.name.removeprefix("nn.functional."): o for o in op_db
       if o.name.removeprefix("nn.functional.") in CONV_OPS + TRANSPOSED_OPS}


def _samples():
    for name, op in sorted(OPS.items()):
        for i, s in enumerate(op.sample_inputs("cpu", torch.float64, requires_grad=False)):
            yield pytest.param(name, s, id=f"{name}-{i}")


def _errors():
    for name, op in sorted(OPS.items()):
        if op.error_inputs_func is None:
            continue
        for i, e in enumerate(op.error_inputs("cpu")):
            yield pytest.param(name, e, id=f"{name}-error-{i}")


def _numpy(t):
    return None if t is None else t.detach().cpu().numpy()


@pytest.mark.parametrize("name, sample", list(_samples()))
def test_sample_matches_reference(name, sample):
    transposed = name in TRANSPOSED_OPS
    x, (w, *rest) = sample.input, sample.args
    b = rest[0] if rest else sample.kwargs.get("bias")
    kwargs = {k: v for k, v in sample.kwargs.items() if k != "bias"}
    expected = getattr(F, name)(x, w, b, **kwargs)
    spec = spec_from_call(x, w, b, transposed=transposed, **kwargs)
    assert spec.output_shape(tuple(x.shape)) == tuple(expected.shape)
    fn = reference.conv_transpose if transposed else reference.conv
    ours = fn(_numpy(x), _numpy(w), _numpy(b), **kwargs)
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name, error", list(_errors()))
def test_error_input_is_rejected_with_value_error(name, error):
    s = error.sample_input
    w, *rest = s.args
    b = rest[0] if rest else s.kwargs.get("bias")
    kwargs = {k: v for k, v in s.kwargs.items() if k != "bias"}
    with pytest.raises(error.error_type):  # torch itself rejects it
        getattr(F, name)(s.input, w, b, **kwargs)
    strided_same = kwargs.get("padding") == "same" and kwargs.get("stride", 1) not in (1, (1,))
    if strided_same:
        # convzoo's extension: 'same' at any stride (TF/Keras rule), checked against F.pad + conv
        spec = spec_from_call(s.input, w, b, **kwargs)
        x = s.input.double()
        n = w.dim() - 2
        pads = resolve_padding("same", spec.kernel_size, spec.stride, spec.dilation,
                               tuple(x.shape[-n:]))
        flat = [v for pair in reversed(pads) for v in pair]
        torch_out = getattr(F, name)(F.pad(x, flat), w.double(), b.double(), stride=spec.stride,
                                     groups=spec.groups)
        assert spec.output_shape(tuple(x.shape)) == tuple(torch_out.shape)
        ours = reference.conv(_numpy(x), _numpy(w.double()), _numpy(b.double()), **kwargs)
        np.testing.assert_allclose(ours, torch_out.numpy(), rtol=1e-9, atol=1e-9)
        return
    with pytest.raises(ValueError):
        spec_from_call(s.input, w, b, **kwargs)


def test_every_conv_op_has_samples():
    assert set(OPS) == set(CONV_OPS + TRANSPOSED_OPS)
    assert len(list(_samples())) >= 90 and len(list(_errors())) >= 30
