"""compare(): every variant's counts equal ConvSpec hand counts; ratios; timing fields."""

import io
import json

import pytest
from rich.console import Console

from convzoo.analysis import compare
from convzoo.analysis.timing import interleaved
from convzoo.arithmetic import variant
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
        "conv", "group g=2", "group g=4", "shuffle_group g=2", "shuffle_group g=4", "separable",
        "flattened", "spatially_separable", "dilated d=2"]
    assert counts.baseline == "conv" and not counts.measured and counts.skipped == []
    assert {v.output_shape for v in counts.variants} == {(2, 16, 10, 10)}
    # one word: each row's kind is its label's variant, the word summary and create use
    assert [v.kind for v in counts.variants] == [v.name.split()[0] for v in counts.variants]
    assert all(variant(v.kind).value == v.kind for v in counts.variants)


def test_counts_equal_convspec_hand_counts(counts):
    mid = (2, 16, 10, 10)
    expected = {
        "conv": cost((ConvSpec(8, 16, 3, padding="same"), SHAPE)),
        "group g=2": cost((ConvSpec(8, 16, 3, padding="same", groups=2), SHAPE)),
        "group g=4": cost((ConvSpec(8, 16, 3, padding="same", groups=4), SHAPE)),
        # separable = depthwise + pointwise
        "separable": cost((ConvSpec(8, 8, 3, padding="same", groups=8), SHAPE),
                          (ConvSpec(8, 16, 1), (2, 8, 10, 10))),
        # flattened = pointwise (no bias) + (3, 1) and (1, 3) depthwise, bias on the last
        "flattened": cost((ConvSpec(8, 16, 1, bias=False), SHAPE),
                          (ConvSpec(16, 16, (3, 1), padding="same", groups=16, bias=False), mid),
                          (ConvSpec(16, 16, (1, 3), padding="same", groups=16), mid)),
        "spatially_separable": cost((ConvSpec(8, 16, (3, 1), padding="same", bias=False), SHAPE),
                                    (ConvSpec(16, 16, (1, 3), padding="same"), mid)),
        "dilated d=2": cost((ConvSpec(8, 16, 3, padding="same", dilation=2), SHAPE)),
    }
    for name, (params, macs, moved) in expected.items():
        v = counts[name]
        assert (v.params, v.macs, v.bytes) == (params, macs, moved), name
        assert v.flops == 2 * v.macs and v.intensity == pytest.approx(v.flops / v.bytes)
    for g in (2, 4):  # the shuffle is free in params and MACs, but copies the output once
        shuffled, grouped = counts[f"shuffle_group g={g}"], counts[f"group g={g}"]
        assert (shuffled.params, shuffled.macs) == (grouped.params, grouped.macs)
        assert shuffled.bytes == grouped.bytes + 2 * 4 * 2 * 16 * 10 * 10


def test_ratios_and_receptive_fields(counts):
    base = counts["conv"]
    assert base.ratios["params"] == base.ratios["macs"] == base.ratios["bytes"] == 1.0
    for v in counts.variants:
        assert v.ratios["params"] == pytest.approx(v.params / base.params)
        assert v.ratios["macs"] == pytest.approx(v.macs / base.macs)
        assert v.forward_ms is None and v.ratios["forward"] is None
    assert counts["separable"].ratios["macs"] < 0.2
    assert counts["conv"].rf == (3, 3) and counts["dilated d=2"].rf == (5, 5)
    assert "5x5" in counts["dilated d=2"].note
    assert counts["dilated d=2"].note.endswith(f"{ConvSpec(8, 16, 5).params:,} params")


def test_measured_latencies_are_positive():
    c = compare(4, 8, 3, 6, groups=2, repeats=2, warmup=0)
    assert c.measured and c.repeats == 2
    for v in c.variants:
        assert v.forward_ms > 0 and v.forward_backward_ms > 0
        assert v.ratios["forward"] > 0 and v.ratios["forward_backward"] > 0
    assert c["conv"].ratios["forward"] == c["conv"].ratios["forward_backward"] == 1.0
    buf = io.StringIO()
    c.render(Console(file=buf, width=200))
    assert "Fwd+bwd ms" in buf.getvalue() and "interleaved" in buf.getvalue()


def test_stride_groups_skipped_and_json():
    c = compare(6, 12, 3, 9, stride=2, groups=(3, 4), measure=False)
    assert {v.output_shape for v in c.variants} == {(1, 12, 5, 5)}
    assert [v.name for v in c.variants if "g=" in v.name] == ["group g=3", "shuffle_group g=3"]
    assert c.skipped[0].startswith("group/shuffle_group g=4: `groups` (=4) must divide")
    data = json.loads(c.to_json())
    assert data["config"]["stride"] == [2, 2] and data["variants"][0]["name"] == "conv"
    assert data["variants"][0]["kind"] == "conv" and "family" not in data["variants"][0]
    assert "Fwd ms" not in str(c)


def test_pointwise_kernel_skips_spatial_factorizations():
    c = compare(4, 4, 1, 5, groups=(), measure=False)
    assert [v.name for v in c.variants] == ["conv", "separable"]
    assert "kernel is 1x1" in c.skipped[0]


def test_one_dimensional():
    c = compare(4, 8, (3,), (12,), measure=False)
    assert {v.output_shape for v in c.variants} == {(1, 8, 12)}
    # in 1-D a flattened conv is a separable one and a spatially separable one a plain conv:
    # the kind says what the traced layer is, the label which layer was built
    assert (c["flattened"].kind, c["spatially_separable"].kind) == ("separable", "conv")


def test_three_dimensional_kinds():
    c = compare(4, 8, (3, 3, 3), 6, groups=2, measure=False)
    assert [v.kind for v in c.variants] == [
        "conv3d", "group", "shuffle_group", "separable", "flattened", "spatially_separable",
        "dilated"]


def test_upsample_variants():
    c = compare(8, 4, 3, 10, upscale_factor=2, measure=False)
    assert [v.name for v in c.variants] == ["transposed", "subpixel", "resize_conv"]
    assert [v.kind for v in c.variants] == ["transposed", "subpixel", "resize_conv"]
    assert c.baseline == "transposed"
    assert {v.output_shape for v in c.variants} == {(1, 4, 20, 20)}
    t = ConvSpec(8, 4, 3, stride=2, padding="same", transposed=True)
    assert (c["transposed"].params, c["transposed"].macs) == (t.params, t.macs((1, 8, 10, 10)))
    sub = ConvSpec(8, 16, 3, padding="same")
    assert (c["subpixel"].params, c["subpixel"].macs) == (sub.params, sub.macs((1, 8, 10, 10)))
    rc = ConvSpec(8, 4, 3, padding="same")
    assert (c["resize_conv"].params, c["resize_conv"].macs) == (rc.params,
                                                                rc.macs((1, 8, 20, 20)))
    assert c["resize_conv"].ratios["macs"] == 4.0  # the conv runs at the output resolution
    assert "checkerboard" in c["transposed"].note


@pytest.mark.parametrize("kwargs, message", [
    ({"upscale_factor": 2, "stride": 2}, "`stride` (=2) must be 1 with `upscale_factor` (=2): "
     "the upscale factor sets the stride of the transposed conv"),
    ({"upscale_factor": 1}, "`upscale_factor` (=1) must be None or an int >= 2"),
    ({"upsample": 2, "upscale_factor": 2}, "`upsample` (=2) and `upscale_factor` (=2) name the "
     "same argument; pass only `upscale_factor`"),
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


def test_rows_read_aliases_and_suggest_the_closest_label(counts):
    assert counts["standard"] is counts["conv"] and counts["grouped g=4"] is counts["group g=4"]
    assert counts["spatially separable"] is counts["spatially_separable"]
    with pytest.raises(KeyError, match=r"no variant named 'separabel' \(did you mean "
                                       r"'separable'\?\); rows: \['conv', "):
        counts["separabel"]


def test_subset_keeps_the_baseline_first(counts):
    sub = counts.subset(["group g=2", "grouped g=2", "conv"])
    assert [v.name for v in sub.variants] == ["conv", "group g=2"]
    assert sub.baseline == "conv" and sub.config == counts.config


def test_deprecated_names_of_compare_warn_and_still_work(counts):
    import importlib

    import convzoo.analysis as analysis
    from convzoo.analysis import ComparisonRow

    compare_module = importlib.import_module("convzoo.analysis.compare")  # the module

    with pytest.warns(FutureWarning, match=r"`convzoo.analysis.Variant` is deprecated and will "
                                           r"be removed in convzoo 0.2: use "
                                           r"`convzoo.analysis.ComparisonRow`"):
        assert analysis.Variant is ComparisonRow
    with pytest.warns(FutureWarning, match=r"`convzoo.analysis.compare.Variant` is deprecated"):
        assert compare_module.Variant is ComparisonRow
    with pytest.warns(FutureWarning, match=r"`ComparisonRow.family` is deprecated .* use "
                                           r"`ComparisonRow.kind`"):
        assert counts["conv"].family == "conv"
    with pytest.warns(FutureWarning, match=r"`upsample` is deprecated .* use `upscale_factor`"):
        c = compare(8, 4, 3, 10, upsample=2, measure=False)
    assert c.config["upscale_factor"] == 2 and c.baseline == "transposed"
