"""Every public arithmetic function validates its input with ConvSpec's one-line errors
(``check_int``), pinned here; where torch has an opinion it refuses the same inputs."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from convzoo import arithmetic as ar

CASES = [
    (lambda: ar.conv_output_size(5, 0), "`kernel` (=0) must be a positive int"),
    (lambda: ar.conv_output_size(5, 3, stride=-1), "`stride` (=-1) must be a positive int"),
    (lambda: ar.conv_output_size(5, 3, stride=0), "`stride` (=0) must be a positive int"),
    (lambda: ar.conv_output_size(0, 1), "`size` (=0) must be a positive int"),
    (lambda: ar.conv_output_size(5, 3, dilation=0), "`dilation` (=0) must be a positive int"),
    (lambda: ar.conv_output_size(5, 3, padding=-1),
     "`padding` (=-1) must be a non-negative int or a (lo, hi) pair of them"),
    (lambda: ar.conv_output_size(5.0, 3), "`size` (=5.0) must be a positive int"),
    (lambda: ar.conv_transpose_output_size(4, 3, 2, output_padding=2),
     "`output_padding` (=2) must be smaller than max(`stride`, `dilation`) (=2)"),
    (lambda: ar.conv_transpose_output_size(4, 3, 2, output_padding=-1),
     "`output_padding` (=-1) must be an int >= 0"),
    (lambda: ar.conv_params(-3, 8, (3, 3)), "`in_channels` (=-3) must be a positive int"),
    (lambda: ar.conv_params(3, 8, (3, 3), groups=2),
     "`in_channels` (=3) must be divisible by `groups` (=2)"),
    (lambda: ar.conv_params(4, 8, (3, 0)),
     "`kernel_size` (=(3, 0)) must be a sequence of positive ints, one per axis"),
    (lambda: ar.conv_macs(1, 4, 6, (3,), (8,), (6,), groups=4),
     "`out_channels` (=6) must be divisible by `groups` (=4)"),
    (lambda: ar.conv_macs(-1, 4, 4, (3,), (8,), (6,)), "`batch` (=-1) must be an int >= 0"),
    (lambda: ar.flops(-2), "`macs` (=-2) must be an int >= 0"),
    (lambda: ar.bytes_moved([4, -1]),
     "`elements` (=[4, -1]) must be a sequence of ints >= 0, one per axis"),
    (lambda: ar.same_padding(8, 3, 0), "`stride` (=0) must be a positive int"),
    (lambda: ar.transposed_same_padding(0, 2), "`kernel` (=0) must be a positive int"),
    (lambda: ar.solve_padding(8, 0, 3), "`target` (=0) must be a positive int"),
    (lambda: ar.solve_output_padding(3, 6, 3, stride=0), "`stride` (=0) must be a positive int"),
    (lambda: ar.effective_kernel(3, -2), "`dilation` (=-2) must be a positive int"),
    (lambda: ar.pixel_shuffle_rf_layer(0), "`factor` (=0) must be a positive int"),
    (lambda: ar.conv_rf_layer(3, 0), "`stride` (=0) must be a positive int"),
    (lambda: ar.transposed_rf_layers(3, 2, -1),
     "`padding` (=-1) must be a non-negative int or a (lo, hi) pair of them"),
    (lambda: ar.conv_taps(5, 3, 3, stride=0), "`stride` (=0) must be a positive int"),
    (lambda: ar.pad_taps(4, 1, 1, "mirror"),
     "`mode` (='mirror') must be one of constant, reflect, replicate, circular"),
    (lambda: ar.interpolate_taps(4, 8, "area"),
     "`mode` (='area') must be one of nearest, nearest-exact, linear, cubic"),
]


@pytest.mark.parametrize("call,message", CASES, ids=[m[:40] for _, m in CASES])
def test_one_line_error(call, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call()


def test_torch_refuses_the_same_convolutions():
    x = torch.zeros(1, 1, 5)
    for kwargs in (dict(stride=0), dict(dilation=0), dict(padding=-1)):
        with pytest.raises(RuntimeError):
            F.conv1d(x, torch.zeros(1, 1, 3), **kwargs)
    with pytest.raises(RuntimeError):
        F.conv1d(torch.zeros(1, 3, 5), torch.zeros(8, 1, 3), groups=2)
    with pytest.raises(RuntimeError):  # output_padding must be < max(stride, dilation)
        F.conv_transpose1d(torch.zeros(1, 1, 4), torch.zeros(1, 1, 3), stride=2,
                           output_padding=2)


def test_zero_sized_transposed_output_is_refused_like_torch():
    # ConvTranspose3d k=(2,4,2), s=(3,2,2), p=(1,2,1) on 1x1x1: every axis would be 0
    spec_args = dict(kernel_size=(2, 4, 2), stride=(3, 2, 2), padding=(1, 2, 1))
    with pytest.raises(RuntimeError, match="Output size is too small"):
        torch.nn.ConvTranspose3d(1, 1, **spec_args)(torch.zeros(1, 1, 1, 1, 1))
    from convzoo.spec import ConvSpec

    spec = ConvSpec(1, 1, transposed=True, **spec_args)
    with pytest.raises(ValueError, match=r"output size \(=\(0, 0, 0\)\) must be positive along at "
                                         "least one spatial axis"):
        spec.output_shape((1, 1, 1, 1, 1))
