"""The tour's variant table: numbers from convzoo.create + analysis, checked by hand."""

from convzoo.tour.variants import UPSAMPLING_CASES, VARIANT_CASES, measure_variants


def test_variant_rows_against_hand_counts():
    rows = {r.kind: r for r in measure_variants(VARIANT_CASES, (1, 32, 32, 32))}
    hw = 32 * 32
    assert rows["conv"].params == 64 * 32 * 9 + 64 and rows["conv"].macs == hw * 64 * 32 * 9
    assert rows["group"].macs == hw * 64 * 8 * 9 and rows["group"].macs_ratio == 0.25
    assert rows["separable"].macs == hw * (32 * 9 + 64 * 32)
    assert rows["flattened"].macs == hw * (64 * 32 + 64 * 3 + 64 * 3)
    assert rows["spatially_separable"].macs == hw * (32 * 32 * 3 + 64 * 32 * 3)
    assert rows["dilated"].receptive_field == 5 and rows["conv"].receptive_field == 3
    assert rows["depthwise"].output_shape == (1, 32, 32, 32)
    assert all(r.output_shape[2:] == (32, 32) for r in rows.values())


def test_upsampling_rows():
    rows = {r.kind: r for r in measure_variants(UPSAMPLING_CASES, (1, 32, 16, 16))}
    assert {r.output_shape for r in rows.values()} == {(1, 64, 32, 32)}
    # transposed: each of the 32*16*16 inputs scatters into 64 * 4*4 outputs
    assert rows["transposed"].macs == 32 * 16 * 16 * 64 * 16
    # sub-pixel: a 3x3 conv to 64*4 channels at 16x16; resize-conv: 3x3 conv at 32x32
    assert rows["subpixel"].macs == rows["resize_conv"].macs == 16 * 16 * 256 * 32 * 9
