"""Fast paths (channels_last, FFT) against the native path, and their dispatch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convzoo.functional import choose_path, conv_channels_last, conv_fft, run_fast, run_spec
from convzoo.functional.smooth import next_smooth
from convzoo.layers import Conv2d, Depthwise, DepthwiseSeparable
from convzoo.spec import ConvSpec

CL = torch.channels_last
TOL = {torch.float64: 1e-10, torch.float32: 2e-4}

DEPTHWISE = [  # (spec, input shape)
    (ConvSpec(6, 6, 15, padding="same", groups=6, ndim=2), (2, 6, 17, 19)),
    (ConvSpec(4, 8, (14, 21), stride=2, padding=3, groups=4, ndim=2), (1, 4, 30, 31)),
    (ConvSpec(3, 3, 3, padding=1, dilation=2, groups=3, padding_mode="reflect", ndim=2),
     (2, 3, 9, 8)),
]
DENSE = [
    (ConvSpec(3, 4, 19, padding="same", ndim=2), (2, 3, 24, 23)),
    (ConvSpec(2, 2, (19, 21), stride=2, padding=((3, 1), (0, 2)), ndim=2), (1, 2, 30, 29)),
    (ConvSpec(2, 3, 5, dilation=(2, 3), padding=4, padding_mode="circular", ndim=2),
     (1, 2, 16, 18)),
    (ConvSpec(9, 9, 3, padding=1, ndim=2), (1, 9, 8, 8)),  # einsum channel mix
]


def _tensors(spec: ConvSpec, shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    w = torch.randn(spec.weight_shape, generator=g, dtype=dtype)
    b = torch.randn(spec.out_channels, generator=g, dtype=dtype)
    return x, w, b


def _close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> None:
    scale = max(b.abs().max().item(), 1.0)
    torch.testing.assert_close(a, b, rtol=0, atol=TOL[dtype] * scale)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", range(len(DEPTHWISE)))
def test_channels_last_equals_native(case: int, dtype: torch.dtype) -> None:
    spec, shape = DEPTHWISE[case]
    x, w, b = _tensors(spec, shape, dtype)
    ref = run_spec(spec, x, w, b)
    y = conv_channels_last(spec, x, w, b)
    assert y.is_contiguous()  # NCHW in -> NCHW out
    _close(y, ref, dtype)
    y_cl = conv_channels_last(spec, x.contiguous(memory_format=CL), w, b)
    assert y_cl.is_contiguous(memory_format=CL)  # channels_last in -> channels_last out
    _close(y_cl, ref, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", range(len(DENSE)))
def test_fft_equals_native(case: int, dtype: torch.dtype) -> None:
    spec, shape = DENSE[case]
    x, w, b = _tensors(spec, shape, dtype)
    _close(conv_fft(spec, x, w, b), run_spec(spec, x, w, b), dtype)


def test_fft_uses_smooth_sizes() -> None:
    assert next_smooth(97) == 100 and next_smooth(121) == 125 and next_smooth(64) == 64


GRAD_CASES = [  # small: gradcheck evaluates the conv twice per input element
    (conv_channels_last, ConvSpec(2, 4, (3, 5), stride=2, padding=1, groups=2, ndim=2),
     (1, 2, 7, 8)),
    (conv_fft, ConvSpec(2, 2, (4, 5), stride=2, padding=((1, 0), (2, 1)), ndim=2),
     (1, 2, 8, 9)),
]


@pytest.mark.parametrize("fn,spec,shape", GRAD_CASES)
def test_gradcheck(fn, spec: ConvSpec, shape: tuple[int, ...]) -> None:
    x, w, b = _tensors(spec, shape, torch.float64)
    args = [t.requires_grad_() for t in (x, w, b)]
    assert torch.autograd.gradcheck(lambda *a: fn(spec, *a), args)


@pytest.mark.parametrize(
    "spec,shape,layout,expected",
    [
        (DEPTHWISE[0][0], DEPTHWISE[0][1], None, "channels_last"),  # k = 15
        (ConvSpec(6, 6, 13, groups=6, ndim=2), (1, 6, 20, 20), None, "native"),
        (ConvSpec(6, 6, 3, groups=6, ndim=2), (1, 6, 20, 20), CL, "channels_last"),
        (ConvSpec(3, 4, 19, ndim=2), (1, 3, 30, 30), None, "fft"),
        (ConvSpec(3, 4, 19, stride=2, ndim=2), (1, 3, 30, 30), None, "channels_last"),
        (ConvSpec(16, 16, 21, ndim=2), (1, 16, 30, 30), None, "channels_last"),
        (ConvSpec(16, 16, 3, ndim=2), (1, 16, 30, 30), None, "native"),
        (ConvSpec(6, 6, 15, groups=3, ndim=2), (1, 6, 20, 20), None, "native"),  # grouped
        (ConvSpec(6, 6, 15, groups=6, ndim=1), (1, 6, 20), None, "native"),  # 1-D
        (ConvSpec(6, 6, 15, groups=6, transposed=True, ndim=2), (1, 6, 20, 20), None,
         "native"),
    ],
)
def test_choose_path(spec, shape, layout, expected) -> None:
    x = torch.randn(shape)
    if layout is not None:
        x = x.contiguous(memory_format=layout)
    assert choose_path(spec, x) == expected


def test_choose_path_half_precision_is_native() -> None:
    spec = DEPTHWISE[0][0]
    assert choose_path(spec, torch.randn(1, 6, 20, 20, dtype=torch.bfloat16)) == "native"


def test_run_fast_rejects_unknown_path() -> None:
    spec, shape = DEPTHWISE[0]
    x, w, b = _tensors(spec, shape, torch.float32)
    with pytest.raises(ValueError, match=r"`path` \(='gemm'\) must be None or one of: native, "
                       r"channels_last, fft"):
        run_fast(spec, x, w, b, path="gemm")  # type: ignore[arg-type]


def test_kernels_reject_unsupported_specs() -> None:
    spec = ConvSpec(4, 4, 3, groups=2, ndim=2)
    x, w, b = _tensors(spec, (1, 4, 8, 8), torch.float32)
    with pytest.raises(ValueError, match=r"must be a dense 2-D forward convolution on a 4-D "
                       "input for the FFT path"):
        conv_fft(spec, x, w, b)
    spec1 = ConvSpec(4, 4, 3, ndim=1)
    with pytest.raises(ValueError, match=r"must be a 2-D forward convolution on a 4-D input"):
        conv_channels_last(spec1, torch.randn(1, 4, 8), torch.randn(4, 4, 3), None)
    dense = ConvSpec(2, 2, 19, ndim=2)
    with pytest.raises(ValueError, match=r"`input` dtype \(=torch.bfloat16\) must be float32 "
                       "or float64 for FFT"):
        conv_fft(dense, torch.randn(1, 2, 20, 20, dtype=torch.bfloat16),
                 torch.randn(2, 2, 19, 19, dtype=torch.bfloat16), None)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_layers_dispatch_and_match_functional(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 4, 26, 26, dtype=dtype)
    dw = Depthwise(4, 17, padding="same", depth_multiplier=2, dtype=dtype)
    _close(dw(x), F.conv2d(x, dw.weight, dw.bias, padding=8, groups=4), dtype)
    dense = Conv2d(4, 3, 21, padding=10, dtype=dtype)
    _close(dense(x), F.conv2d(x, dense.weight, dense.bias, padding=10), dtype)
    sep = DepthwiseSeparable(4, 5, 15, padding=7, dtype=dtype)
    ref = F.conv2d(F.conv2d(x, sep.depthwise.weight, sep.depthwise.bias, padding=7, groups=4),
                   sep.pointwise.weight, sep.pointwise.bias)
    y = sep(x)
    assert y.is_contiguous()
    _close(y, ref, dtype)
    y_cl = sep(x.contiguous(memory_format=CL))  # channels_last stays channels_last
    assert y_cl.is_contiguous(memory_format=CL)
    _close(y_cl, ref, dtype)


def _fast_layers() -> list[tuple[torch.nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    return [
        (Depthwise(4, 15, padding="same"), (1, 4, 20, 20)),
        (Conv2d(2, 3, 19, padding=9), (1, 2, 24, 24)),
        (DepthwiseSeparable(4, 6, 15, padding=7), (1, 4, 20, 20)),
    ]


@pytest.mark.parametrize("index", range(3))
def test_torch_export_keeps_fast_path(index: int) -> None:
    layer, shape = _fast_layers()[index]
    x = torch.randn(shape)
    program = torch.export.export(layer, (x,))
    torch.testing.assert_close(program.module()(x), layer(x), rtol=1e-5, atol=1e-4)
    targets = " ".join(str(n.target) for n in program.graph.nodes)
    assert ("fft" in targets) == (index == 1)


@pytest.mark.parametrize("index", range(3))
def test_torch_compile_fullgraph(index: int) -> None:
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    layer, shape = _fast_layers()[index]
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    for _ in range(2):  # a second input must not recompile (dispatch holds no traced state)
        x = torch.randn(shape)
        torch.testing.assert_close(compiled(x), layer(x), rtol=1e-5, atol=1e-4)
    assert counters["stats"]["unique_graphs"] == 1, dict(counters["stats"])


@pytest.mark.slow
@pytest.mark.parametrize("index", range(3))
def test_torch_compile_inductor(index: int) -> None:
    torch._dynamo.reset()
    layer, shape = _fast_layers()[index]
    x = torch.randn(shape)
    compiled = torch.compile(layer, fullgraph=True)  # inductor: FFT ops stay aten fallbacks
    torch.testing.assert_close(compiled(x), layer(x), rtol=1e-5, atol=1e-4)
