"""compare(): every variant's counts equal ConvSpec hand counts; ratios; timing fields."""

import io
import json

import pytest
from rich.console import Console

from convzoo.analysis import compare
from convzoo.analysis.timing import interleaved
from convzoo.spec import ConvSpec

SHAPE = (2, 8, 10, 10)


def cost(*specs_and_shapes):
    """Summed (params, macs, bytes) of (spec, input_shape) pairs."""
    costs = [spec.cost(shape) for spec, shape in specs_and_shapes]
    return (sum(c.params for c in costs), sum(c.macs for c in costs),
            sum(c.bytes for c in costs))


@pytest.fixture(scope="module")
def counts():
    return compare(8, 16, 3, 10, batch=2, measure=False)


def test_variant_rows_and_baseline(counts):
    assert [v.name for v in counts.variants] == [
        "standard", "grouped g=2", "grouped g=4", "shuffle g=2", "shuffle g=4", "separable",
        "flattened", "spatially separable", "dilated d=2"]
    assert counts.baseline == "standard" and not counts.measured and counts.skipped == []
    assert {v.output_shape for v in counts.variants} == {(2, 16, 10, 10)}
    kinds = {v.name: v.kind for v in counts.variants}
    assert kinds["separable"] == "separable" and kinds["shuffle g=2"] == "shuffle"
    assert kinds["flattened"] == "flattened" and kinds["dilated d=2"] == "dilated"


def test_counts_equal_convspec_hand_counts(counts):
    mid = (2, 16, 10, 10)
    expected = {
        "standard": cost((ConvSpec(8, 16, 3, padding="same"), SHAPE)),
        "grouped g=2": cost((ConvSpec(8, 16, 3, padding="same", groups=2), SHAPE)),
        "grouped g=4": cost((ConvSpec(8, 16, 3, padding="same", groups=4), SHAPE)),
        # separable = depthwise + pointwise
        "separable": cost((ConvSpec(8, 8, 3, padding="same", groups=8), SHAPE),
                          (ConvSpec(8, 16, 1), (2, 8, 10, 10))),
        # flattened = pointwise (no bias) + (3, 1) and (1, 3) depthwise, bias on the last
        "flattened": cost((ConvSpec(8, 16, 1, bias=False), SHAPE),
                          (ConvSpec(16, 16, (3, 1), padding="same", groups=16, bias=False), mid),
                          (ConvSpec(16, 16, (1, 3), padding="same", groups=16), mid)),
        "spatially separable": cost((ConvSpec(8, 16, (3, 1), padding="same", bias=False), SHAPE),
                                    (ConvSpec(16, 16, (1, 3), padding="same"), mid)),
        "dilated d=2": cost((ConvSpec(8, 16, 3, padding="same", dilation=2), SHAPE)),
    }
    for name, (params, macs, moved) in expected.items():
        v = counts[name]
        assert (v.params, v.macs, v.bytes) == (params, macs, moved), name
        assert v.flops == 2 * v.macs and v.intensity == pytest.approx(v.flops / v.bytes)
    for g in (2, 4):  # the shuffle is free in params and MACs, but copies the output once
        shuffled, grouped = counts[f"shuffle g={g}"], counts[f"grouped g={g}"]
        assert (shuffled.params, shuffled.macs) == (grouped.params, grouped.macs)
        assert shuffled.bytes == grouped.bytes + 2 * 4 * 2 * 16 * 10 * 10


def test_ratios_and_receptive_fields(counts):
    base = counts["standard"]
    assert base.ratios["params"] == base.ratios["macs"] == base.ratios["bytes"] == 1.0
    for v in counts.variants:
        assert v.ratios["params"] == pytest.approx(v.params / base.params)
        assert v.ratios["macs"] == pytest.approx(v.macs / base.macs)
        assert v.forward_ms is None and v.ratios["forward"] is None
    assert counts["separable"].ratios["macs"] < 0.2
    assert counts["standard"].rf == (3, 3) and counts["dilated d=2"].rf == (5, 5)
    assert "5x5" in counts["dilated d=2"].note
    assert counts["dilated d=2"].note.endswith(f"{ConvSpec(8, 16, 5).params:,} params")


def test_measured_latencies_are_positive():
    c = compare(4, 8, 3, 6, groups=2, repeats=2, warmup=0)
    assert c.measured and c.repeats == 2
    for v in c.variants:
        assert v.forward_ms > 0 and v.forward_backward_ms > 0
        assert v.ratios["forward"] > 0 and v.ratios["forward_backward"] > 0
    assert c["standard"].ratios["forward"] == c["standard"].ratios["forward_backward"] == 1.0
    buf = io.StringIO()
    c.render(Console(file=buf, width=200))
    assert "Fwd+bwd ms" in buf.getvalue() and "interleaved" in buf.getvalue()


def test_stride_groups_skipped_and_json():
    c = compare(6, 12, 3, 9, stride=2, groups=(3, 4), measure=False)
    assert {v.output_shape for v in c.variants} == {(1, 12, 5, 5)}
    assert [v.name for v in c.variants if "g=" in v.name] == ["grouped g=3", "shuffle g=3"]
    assert c.skipped[0].startswith("grouped/shuffle g=4: `groups` (=4) must divide")
    data = json.loads(c.to_json())
    assert data["config"]["stride"] == [2, 2] and data["variants"][0]["name"] == "standard"
    assert "Fwd ms" not in str(c)


def test_pointwise_kernel_skips_spatial_factorizations():
    c = compare(4, 4, 1, 5, groups=(), measure=False)
    assert [v.name for v in c.variants] == ["standard", "separable"]
    assert "kernel is 1x1" in c.skipped[0]


def test_one_dimensional():
    c = compare(4, 8, (3,), (12,), measure=False)
    assert {v.output_shape for v in c.variants} == {(1, 8, 12)}


def test_upsample_variants():
    c = compare(8, 4, 3, 10, upsample=2, measure=False)
    assert [v.name for v in c.variants] == ["transposed", "sub-pixel", "resize-conv"]
    assert c.baseline == "transposed"
    assert {v.output_shape for v in c.variants} == {(1, 4, 20, 20)}
    t = ConvSpec(8, 4, 3, stride=2, padding="same", transposed=True)
    assert (c["transposed"].params, c["transposed"].macs) == (t.params, t.macs((1, 8, 10, 10)))
    sub = ConvSpec(8, 16, 3, padding="same")
    assert (c["sub-pixel"].params, c["sub-pixel"].macs) == (sub.params, sub.macs((1, 8, 10, 10)))
    rc = ConvSpec(8, 4, 3, padding="same")
    assert (c["resize-conv"].params, c["resize-conv"].macs) == (rc.params,
                                                                rc.macs((1, 8, 20, 20)))
    assert c["resize-conv"].ratios["macs"] == 4.0  # the conv runs at the output resolution
    assert "checkerboard" in c["transposed"].note


@pytest.mark.parametrize("kwargs, message", [
    ({"upsample": 2, "stride": 2}, "`stride` (=2) must be 1 with `upsample` (=2): the "
     "upsampling factor sets the stride of the transposed conv"),
    ({"upsample": 1}, "`upsample` (=1) must be None or an int >= 2"),
    ({"groups": (1,)}, "`groups` (=(1,)) must be an int or a sequence of ints >= 2"),
    ({"repeats": 0}, "`repeats` (=0) must be an int >= 1"),
    ({"batch": 0}, "`batch` (=0) must be a positive int"),
])
def test_errors(kwargs, message):
    with pytest.raises(ValueError) as e:
        compare(4, 4, 3, 8, measure=False, **kwargs)
    assert str(e.value) == message


def test_interleaved_is_round_robin_after_warmup():
    order = []
    t = interleaved({n: (lambda n=n: order.append(n)) for n in "abc"}, repeats=3, warmup=1)
    assert order == list("abc" "bca" "cab" "abc")  # rotated each round, warm-up first
    assert all(len(v.samples) == 3 and v.median >= 0 for v in t.values())
    with pytest.raises(ValueError, match=r"`warmup` \(=-1\) must be an int >= 0"):
        interleaved({"a": lambda: None}, warmup=-1)
