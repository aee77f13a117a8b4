"""Every bad argument raises ValueError naming the argument, the value and the rule."""

import re

import pytest

from convzoo import ConvSpec
from convzoo.spec import MAX_ELEMENTS

CASES = [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2),
     "`in_channels` (=3) must be divisible by `groups` (=2)"),
    (dict(in_channels=4, out_channels=3, kernel_size=3, groups=2),
     "`out_channels` (=3) must be divisible by `groups` (=2)"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, groups=0),
     "`groups` (=0) must be a positive int"),
    (dict(in_channels=4, out_channels=4, kernel_size=3, groups=-1),
     "`groups` (=-1) must be a positive int"),
    (dict(in_channels=0, out_channels=4, kernel_size=3),
     "`in_channels` (=0) must be a positive int"),
    (dict(in_channels=3, out_channels=4, kernel_size=(0, 3)),
     "`kernel_size` (=(0, 3)) must be positive (>= 1) in every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=-2),
     "`kernel_size` (=-2) must be positive (>= 1) in every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=0),
     "`stride` (=0) must be positive (>= 1) in every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, dilation=(1, 0)),
     "`dilation` (=(1, 0)) must be positive (>= 1) in every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=-1),
     "`padding` (=-1) must be non-negative on every side"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=((1, -1), 0)),
     "`padding` (=((1, -1), 0)) must be non-negative on every side"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding="half"),
     "`padding` (='half') must be one of 'valid', 'same', 'full', 'causal', a non-negative "
     "int, a tuple of ints (one per spatial dimension) or a tuple of (before, after) pairs"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding="causal"),
     "`padding` (='causal') is defined for 1 spatial dimension, got 2"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding_mode="mirror"),
     "`padding_mode` (='mirror') must be one of 'zeros', 'reflect', 'replicate', 'circular'"),
    (dict(in_channels=3, out_channels=4, kernel_size=(3, 3), stride=(1, 2, 3)),
     "`stride` (=(1, 2, 3)) must have 2 elements, one per spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=2.5),
     "`kernel_size` (=2.5) must be an int or a tuple of 2 ints"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, output_padding=1),
     "`output_padding` (=1) applies only to transposed convolutions (transposed=True)"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, output_padding=2,
          transposed=True),
     "`output_padding` (=2) must be smaller than max(`stride`, `dilation`) (=(2, 2)) in "
     "every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, output_padding=1, transposed=True),
     "`output_padding` (=1) must be smaller than max(`stride`, `dilation`) (=(1, 1)) in "
     "every spatial dimension"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, transposed=True, padding_mode="reflect"),
     "`padding_mode` (='reflect') must be 'zeros' for transposed convolutions"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, transposed=True, padding="full"),
     "`padding` (='full') is not defined for transposed convolutions"),
    (dict(in_channels=3, out_channels=4, kernel_size=3, padding=10**6),
     "`padding` (=((1000000, 1000000), (1000000, 1000000))) is so large that even the "
     f"smallest valid input gives an output of {4 * 1999999**2} elements, more than the "
     f"limit of {MAX_ELEMENTS}"),
    (dict(in_channels=3, out_channels=4, kernel_size=(5000, 5000, 5000)),
     "the weight of shape (4, 3, 5000, 5000, 5000) (out_channels, in_channels/groups, "
     f"*kernel_size) would have 1500000000000 elements, more than the limit of {MAX_ELEMENTS}"),
    # huge channel counts are blamed on the weight's shape, not on a 1x1 kernel
    (dict(in_channels=2**70, out_channels=2**70, kernel_size=1),
     f"the weight of shape ({2**70}, {2**70}, 1, 1) (out_channels, in_channels/groups, "
     "*kernel_size) would have"),
]


@pytest.mark.parametrize("kwargs, message", CASES, ids=[m[:40] for _, m in CASES])
def test_construction_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ConvSpec(**kwargs)


INPUT_CASES = [
    (ConvSpec(3, 4, 3), (3, 32), "`input_shape` (=(3, 32)) must be (N, C, *spatial) or "
     "(C, *spatial) with 2 spatial dims"),
    (ConvSpec(3, 4, 3), (1, 4, 32, 32), "`input_shape` channel dim (=4) must equal "
     "`in_channels` (=3)"),
    # a missing spatial dim, not a wrong channel count (torch reads it as unbatched C=1 and
    # complains about the channels)
    (ConvSpec(3, 4, 3), (1, 3, 32), "`input_shape` (=(1, 3, 32)) reads as (N, C) = (1, 3) "
     "with 1 spatial dim; this convolution needs 2 spatial dims"),
    (ConvSpec(3, 4, 5), (1, 3, 4, 32), "effective kernel size d*(k-1)+1 (=5) must not exceed "
     "the padded input size (=4) along spatial dim 0"),
    (ConvSpec(3, 4, 3, dilation=4, padding=1), (3, 6, 6), "effective kernel size d*(k-1)+1 "
     "(=9) must not exceed the padded input size (=8) along spatial dim 0"),
    (ConvSpec(3, 4, 3, padding=5, padding_mode="reflect"), (1, 3, 4, 40),
     "`padding` (=5) must be smaller than the input size (=4) along spatial dim 0 for "
     "padding_mode='reflect'"),
    (ConvSpec(3, 4, 3, padding=5, padding_mode="circular"), (1, 3, 40, 4),
     "`padding` (=5) must not exceed the input size (=4) along spatial dim 1 for "
     "padding_mode='circular'"),
    (ConvSpec(3, 64, 3, padding=1), (4096, 3, 512, 512), "the output of shape (4096, 64, 512, "
     "512) would have 68719476736 elements, more than the limit"),
    (ConvSpec(3, 4, 3), (1, 3, 0, 8), "`input_shape` (=(1, 3, 0, 8)) must have positive "
     "spatial sizes"),
    (ConvSpec(3, 4, 1, padding=1, transposed=True), (1, 3, 1, 1),
     "transposed convolution output size (=-1) must be non-negative"),
    (ConvSpec(3, 4, 3), None, "`input_shape` (=None) must be (N, C, *spatial) or "
     "(C, *spatial) with 2 spatial dims"),
    (ConvSpec(3, 4, 3), 32, "`input_shape` (=32) must be (N, C, *spatial) or (C, *spatial) "
     "with 2 spatial dims"),
    (ConvSpec(3, 4, 3), "1,3,8,8", "`input_shape` (='1,3,8,8') must be (N, C, *spatial) or "
     "(C, *spatial) with 2 spatial dims"),
]


@pytest.mark.parametrize("spec, shape, message", INPUT_CASES, ids=[m[:40] for *_, m in INPUT_CASES])
def test_input_errors(spec, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        spec.output_shape(shape)
    with pytest.raises(ValueError, match=re.escape(message)):  # every input-shape method
        spec.cost(shape)


def test_dilated_kernel_in_range_is_fine():
    assert ConvSpec(3, 4, 3, dilation=4, padding=1).output_shape((3, 7, 7)) == (4, 1, 1)
