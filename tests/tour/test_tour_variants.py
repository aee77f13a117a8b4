"""The tour's comparison tables (analysis.compare on the tour's configurations), by hand."""

from convzoo.analysis import compare
from convzoo.cli.tour import TOUR_COMPARISONS


def _rows(arguments):
    return {v.name: v for v in compare(**arguments, measure=False).variants}


def test_every_variant_against_hand_counts():
    rows = _rows(TOUR_COMPARISONS[0][1])
    hw = 32 * 32
    assert rows["conv"].params == 64 * 32 * 9 + 64
    assert rows["conv"].macs == hw * 64 * 32 * 9
    assert rows["group g=4"].macs == hw * 64 * 8 * 9
    assert rows["group g=4"].ratios["macs"] == 0.25
    assert rows["separable"].macs == hw * (32 * 9 + 64 * 32)
    assert rows["flattened"].macs == hw * (64 * 32 + 64 * 3 + 64 * 3)
    assert rows["dilated d=2"].rf == (5, 5) and rows["conv"].rf == (3, 3)
    assert all(v.output_shape == (1, 64, 32, 32) for v in rows.values())


def test_upsampling_rows():
    rows = list(_rows(TOUR_COMPARISONS[1][1]).values())
    assert {v.output_shape for v in rows} == {(1, 64, 32, 32)}
    assert rows[0].kind == "transposed" and rows[0].ratios["macs"] == 1.0
