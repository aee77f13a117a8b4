"""Every code example and numeric claim of the seed articles (../shared/seeds/), as data.

Seed 000: a survey of 3D, transposed, dilated, separable, flattened, grouped and shuffled
group convolutions. Seed 001: standard, grouped, pointwise, depthwise and depthwise-separable
convolutions with their PyTorch APIs. Seed 002: depthwise-separable vs standard parameter
counts. Seed 003: fractionally strided (transposed) and dilated convolutions. Seed 004:
Conv2d vs ConvTranspose2d and a U-Net block.
"""

from __future__ import annotations

from convzoo.arithmetic import (
    chain,
    conv_output_formula,
    conv_output_size,
    conv_rf_layer,
    conv_transpose_output_formula,
    conv_transpose_output_size,
    effective_kernel,
)
from convzoo.spec import ConvSpec
from convzoo.tour.examples import ArithmeticExample, LayerExample, Stage

__all__ = ["LAYER_EXAMPLES", "ARITHMETIC_EXAMPLES"]


def _dw(c: int, k: int, **kw) -> ConvSpec:
    return ConvSpec(c, c, k, groups=c, **kw)


LAYER_EXAMPLES: tuple[LayerExample, ...] = (
    # ---------------------------------------------------------------- seed 000
    LayerExample(
        "000", "3D conv on a 4-frame clip (ThreeDConvNet)", "conv3d", (2, 1, 4, 32, 32),
        (Stage("Conv3d 1->16, 3x3x3, p=1", ConvSpec(1, 16, (3, 3, 3), padding=1)),),
        note="the article prints the shape only; padding 1 keeps depth, height and width",
    ),
    LayerExample(
        "000", "transposed conv, 2x upsampling (TransposeConvNet)", "transposed",
        (2, 3, 16, 16),
        (Stage("ConvTranspose2d 3->16, k=4, s=2, p=1",
               ConvSpec(3, 16, 4, stride=2, padding=1, transposed=True)),),
        claimed_shape=(2, 16, 32, 32),
    ),
    LayerExample(
        "000", "dilated conv, rate 2 (DilatedConvNet)", "dilated", (2, 3, 32, 32),
        (Stage("Conv2d 3->16, k=3, d=2, p=2", ConvSpec(3, 16, 3, padding=2, dilation=2)),),
        note="9 weights per filter with the 5x5 field of a dense 5x5 kernel",
    ),
    LayerExample(
        "000", "depthwise-separable conv (SeparableConvNet)", "separable",
        (2, 3, 32, 32),
        (Stage("depthwise 3x3, g=3, p=1", _dw(3, 3, padding=1)),
         Stage("pointwise 1x1 3->16", ConvSpec(3, 16, 1))),
        baseline=ConvSpec(3, 16, 3, padding=1),
        note="the article's 'about 1/9' holds only as C_out grows: MAC ratio = 1/C_out + 1/k^2",
    ),
    LayerExample(
        "000", "'flat' conv as the article writes it (FlatConvNet)", "conv",
        (2, 3, 32, 32),
        (Stage("Conv2d 3->16, k=3, p=1", ConvSpec(3, 16, 3, padding=1)),),
        note="the article's code is an ordinary conv; the flattened conv of Jin et al. follows",
    ),
    LayerExample(
        "000", "flattened conv (Jin et al. 2014): lateral, vertical, horizontal 1-D convs",
        "flattened", (2, 3, 32, 32),
        (Stage("lateral 1x1 3->16", ConvSpec(3, 16, 1, bias=False)),
         Stage("vertical 3x1 depthwise", _dw(16, (3, 1), padding=(1, 0), bias=False)),
         Stage("horizontal 1x3 depthwise", _dw(16, (1, 3), padding=(0, 1)))),
        baseline=ConvSpec(3, 16, 3, padding=1),
    ),
    LayerExample(
        "000", "grouped conv, 8->16 in 2 groups (GroupConvNet)", "group", (2, 8, 32, 32),
        (Stage("Conv2d 8->16, k=3, g=2, p=1", ConvSpec(8, 16, 3, padding=1, groups=2)),),
        baseline=ConvSpec(8, 16, 3, padding=1),
    ),
    LayerExample(
        "000", "shuffled group conv (ShuffleGroupConvNet)", "shuffle_group", (2, 8, 32, 32),
        (Stage("Conv2d 8->16, k=3, g=2, p=1", ConvSpec(8, 16, 3, padding=1, groups=2)),
         Stage("channel shuffle, g=2 (a permutation: 0 params, 0 MACs)")),
        baseline=ConvSpec(8, 16, 3, padding=1),
    ),
    # ---------------------------------------------------------------- seed 001
    LayerExample(
        "001", "12x12x3 input, one 5x5x3 filter", "conv", (1, 3, 12, 12),
        (Stage("Conv2d 3->1, k=5", ConvSpec(3, 1, 5)),), claimed_shape=(1, 1, 8, 8),
    ),
    LayerExample(
        "001", "12x12x3 input, 256 5x5x3 filters", "conv", (1, 3, 12, 12),
        (Stage("Conv2d 3->256, k=5", ConvSpec(3, 256, 5)),), claimed_shape=(1, 256, 8, 8),
    ),
    LayerExample(
        "001", "grouped conv 256->32 in 8 groups", "group", (1, 256, 12, 12),
        (Stage("Conv2d 256->32, k=3, p=1, g=8", ConvSpec(256, 32, 3, padding=1, groups=8)),),
        claimed_shape=(1, 32, 12, 12), baseline=ConvSpec(256, 32, 3, padding=1),
    ),
    LayerExample(
        "001", "pointwise conv: 256 1x1x3 filters on 8x8x3", "pointwise", (1, 3, 8, 8),
        (Stage("Conv2d 3->256, k=1", ConvSpec(3, 256, 1)),), claimed_shape=(1, 256, 8, 8),
    ),
    LayerExample(
        "001", "depthwise conv: 5x5x1x3 on 12x12x3", "depthwise", (1, 3, 12, 12),
        (Stage("Conv2d 3->3, k=5, g=3", _dw(3, 5)),), claimed_shape=(1, 3, 8, 8),
    ),
    LayerExample(
        "001", "depthwise-separable: 12x12x3 -> 8x8x256", "separable",
        (1, 3, 12, 12),
        (Stage("depthwise 5x5, g=3", _dw(3, 5)),
         Stage("pointwise 1x1 3->256", ConvSpec(3, 256, 1))),
        claimed_shape=(1, 256, 8, 8), baseline=ConvSpec(3, 256, 5),
    ),
    LayerExample(
        "001", "Depth_Wise_Conv(3, 16) on 16x16 (pointwise with padding=1)",
        "separable", (1, 3, 16, 16),
        (Stage("depthwise 3x3, g=3, p=1", _dw(3, 3, padding=1)),
         Stage("pointwise 1x1 3->16, p=1 (as written)", ConvSpec(3, 16, 1, padding=1))),
        note="the article pads its 1x1 conv by 1, so the map grows to 18x18 (zeros around it)",
    ),
    # ---------------------------------------------------------------- seed 002
    LayerExample(
        "002", "standard conv 3->4, 3x3, no bias", "conv", (2, 3, 32, 32),
        (Stage("Conv2d 3->4, k=3, p=1", ConvSpec(3, 4, 3, padding=1, bias=False)),),
        claimed_shape=(2, 4, 32, 32), claimed_params=108,
    ),
    LayerExample(
        "002", "depthwise-separable 3->4, 3x3, no bias (27 + 12)", "separable",
        (2, 3, 32, 32),
        (Stage("depthwise 3x3, g=3, p=1", _dw(3, 3, padding=1, bias=False)),
         Stage("pointwise 1x1 3->4", ConvSpec(3, 4, 1, bias=False))),
        claimed_shape=(2, 4, 32, 32), claimed_params=39,
        baseline=ConvSpec(3, 4, 3, padding=1, bias=False),
    ),
    # ---------------------------------------------------------------- seed 003
    LayerExample(
        "003", "fractionally strided conv: 4x4 -> 8x8", "transposed", (1, 1, 4, 4),
        (Stage("ConvTranspose2d k=4, s=2, p=1", ConvSpec(1, 1, 4, 2, 1, transposed=True)),),
        claimed_shape=(1, 1, 8, 8),
        note="zero insertion makes the 4x4 input 7x7; padding d(k-1)-p = 2 and a 4x4 conv give 8x8",
    ),
    LayerExample(
        "003", "dilated 3x3, rate 2, on 7x7", "dilated", (1, 1, 7, 7),
        (Stage("Conv2d k=3, d=2", ConvSpec(1, 1, 3, dilation=2, bias=False)),),
        claimed_params=9, note="covers 5x5 with 9 weights; 7 - 5 + 1 = 3 outputs per axis",
    ),
    LayerExample(
        "003", "dilated conv 3->64, rate 2, padding 2", "dilated", (1, 3, 32, 32),
        (Stage("Conv2d 3->64, k=3, d=2, p=2", ConvSpec(3, 64, 3, padding=2, dilation=2)),),
        claimed_shape=(1, 64, 32, 32),
    ),
    # ---------------------------------------------------------------- seed 004
    LayerExample(
        "004", "Conv2d 3->16, 3x3, s=1, p=1", "conv", (1, 3, 32, 32),
        (Stage("Conv2d 3->16, k=3, p=1", ConvSpec(3, 16, 3, padding=1)),),
        claimed_shape=(1, 16, 32, 32),
    ),
    LayerExample(
        "004", "ConvTranspose2d 16->3, 3x3, s=2, p=1 (as written)", "transposed",
        (1, 16, 16, 16),
        (Stage("ConvTranspose2d 16->3, k=3, s=2, p=1",
               ConvSpec(16, 3, 3, stride=2, padding=1, transposed=True)),),
        claimed_shape=(1, 3, 32, 32),
        note="PyTorch gives 31x31 = (16-1)*2 - 2 + 3; output_padding=1 (or padding='same') "
        "gives the 32x32 the article expects",
    ),
    LayerExample(
        "004", "the same with output_padding=1", "transposed", (1, 16, 16, 16),
        (Stage("ConvTranspose2d 16->3, k=3, s=2, p=1, op=1",
               ConvSpec(16, 3, 3, stride=2, padding=1, output_padding=1, transposed=True)),),
        claimed_shape=(1, 3, 32, 32),
    ),
    LayerExample(
        "004", "UNetBlock(64, 64) on 16x16: two 3x3 convs then a 2x2/2 transposed conv",
        "transposed", (1, 64, 16, 16),
        (Stage("Conv2d 64->64, k=3, p=1", ConvSpec(64, 64, 3, padding=1)),
         Stage("Conv2d 64->64, k=3, p=1", ConvSpec(64, 64, 3, padding=1)),
         Stage("ConvTranspose2d 64->32, k=2, s=2", ConvSpec(64, 32, 2, 2, transposed=True))),
        claimed_shape=(1, 32, 32, 32),
        note="then concatenated with a 32-channel skip connection: 64 channels at 32x32",
    ),
)


def _size(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> tuple[int, str]:
    return conv_output_size(i, k, s, p, d), conv_output_formula(i, k, s, p, d)


def _coverage(k: int, d: int) -> tuple[int, str]:
    extent = effective_kernel(k, d)
    return extent, f"k + (k-1)(d-1) = {k} + {k - 1}*{d - 1} = {extent}"


def _wavenet() -> tuple[int, str]:
    rf = chain(conv_rf_layer(2, 1, 2**i, 2**i) for i in range(10))
    return rf.size, "r = 1 + sum over layers of (k-1)*d = 1 + (1+2+...+512)"


def _aspp() -> tuple[tuple[int, ...], str]:
    fields = tuple(chain([conv_rf_layer(3, 1, r, r)]).size for r in (1, 6, 12, 18))
    return fields, "one 3x3 layer at rate r sees 2r + 1"


def _ratio(cin: int, cout: int, k: int) -> tuple[str, str]:
    """Separable / standard MACs from the specs themselves (equals 1/C_out + 1/k^2)."""
    shape = (1, cin, 32, 32)
    separable = _dw(cin, k, padding="same").macs(shape) + ConvSpec(cin, cout, 1).macs(shape)
    standard = ConvSpec(cin, cout, k, padding="same").macs(shape)
    return (
        f"{separable / standard:.3f}",
        f"{separable} / {standard} MACs = 1/C_out + 1/k^2 = 1/{cout} + 1/{k * k}",
    )


ARITHMETIC_EXAMPLES: tuple[ArithmeticExample, ...] = (
    ArithmeticExample("001", "5x5 input, k=2, s=2, p=1",
                      lambda: _size(5, 2, 2, 1), 3,
                      "(5 - 2 + 2)/2 + 1 = 3.5: PyTorch drops the last row and column"),
    ArithmeticExample("001", "12x12, k=5 -> 8", lambda: _size(12, 5), 8),
    ArithmeticExample("003", "3x3 kernel at rate 2 covers 5x5", lambda: _coverage(3, 2), 5),
    ArithmeticExample("003", "ASPP branches at rates 1, 6, 12, 18: receptive fields", _aspp,
                      note="the article names the rates; convzoo adds the fields they give"),
    ArithmeticExample("003", "WaveNet stack, k=2, rates 1..512: receptive field", _wavenet,
                      note="'rates growing exponentially': 10 layers see 1024 samples"),
    ArithmeticExample("000", "separable vs standard MACs, 3x3, C_out=16", lambda: _ratio(3, 16, 3),
                      note="the article says 'about 1/9'; that is the large-C_out limit"),
    ArithmeticExample("001", "separable vs standard MACs, 3x3, C_out=256",
                      lambda: _ratio(3, 256, 3),
                      note="'about 11 %': 1/9 + 1/256"),
    ArithmeticExample("004", "transposed conv on 16x16, k=3, s=2, p=1",
                      lambda: (conv_transpose_output_size(16, 3, 2, 1),
                               conv_transpose_output_formula(16, 3, 2, 1)), 32,
                      "the article says 32: it forgets output_padding=1",
                      restates="ConvTranspose2d 16->3, 3x3, s=2, p=1 (as written)"),
)
