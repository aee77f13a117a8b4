"""Figures: connectivity (engine probes), checkerboard, receptive fields, comparison bars."""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from convzoo import reference as ref
from convzoo.analysis import compare, empirical_receptive_field, receptive_field
from convzoo.analysis.timing import quartiles
from convzoo.layers import TransposedConv
from convzoo.spec import ConvSpec
from convzoo.viz.bars import bar_values, comparison_bars_svg
from convzoo.viz.checkerboard import METHODS, checkerboard, checkerboard_figure, overlap_count
from convzoo.viz.connectivity import CONNECTIVITY_KINDS, connectivity, reachable
from convzoo.viz.fields import effective_field, rf_growth, rf_growth_svg, rf_network
from convzoo.viz.fonts import contrast_ratio
from convzoo.viz.taps import channel_links


def _links(diagram, stage):
    m = np.zeros((diagram.sizes[stage + 1], diagram.sizes[stage]), dtype=bool)
    for s, t in diagram.edges[stage]:
        m[t, s] = True
    return m


@pytest.mark.parametrize("kind, groups", [("conv", 1), ("group", 2), ("grouped", 4),
                                          ("depthwise", 8)])
def test_connectivity_edges_are_the_engines(kind, groups):
    d = connectivity(kind, 8, groups)
    # an independent probe: perturb input channel c of the engine, see which outputs change
    w = np.ones((8, 8 // groups, 1, 1))
    base = ref.conv(np.zeros((1, 8, 1, 1)), w, groups=groups)
    seen = np.zeros((8, 8), dtype=bool)
    for c in range(8):
        x = np.zeros((1, 8, 1, 1))
        x[0, c] = 1.0
        seen[:, c] = (ref.conv(x, w, groups=groups) != base)[0, :, 0, 0]
    assert (_links(d, 0) == seen).all()
    assert (_links(d, 0) == channel_links(ConvSpec(8, 8, 1, groups=groups))).all()
    ET.fromstring(d.svg())  # well-formed SVG


def test_shuffle_mixes_groups_and_plain_group_convs_do_not():
    d = connectivity("shuffle_group", 8, 2)
    assert d.kind == "shuffle_group" and d.labels == ("input", "conv 1", "shuffled", "conv 2")
    after = ref.channel_shuffle(np.arange(8.0).reshape(1, 8, 1), 2)[0, :, 0]
    assert sorted(d.edges[1]) == sorted((int(a), i) for i, a in enumerate(after))
    assert reachable(d).all()  # every output sees every input after the shuffle
    two = (_links(d, 2).astype(int) @ _links(d, 0).astype(int)) > 0  # without the shuffle
    assert not two[0, 4:].any() and two[0, :4].all()


@pytest.mark.parametrize("call, message", [
    (lambda: connectivity("transposed"), "`kind` (='transposed') must be one of: conv, group, "
     "depthwise, shuffle_group"),
    (lambda: connectivity("grop"), "`kind` (='grop') is not a connectivity kind; did you mean "
     "'group'? Valid: conv, group, depthwise, shuffle_group"),
    (lambda: connectivity("grouped", 6, 4), "`groups` (=4) must be a positive int dividing "
     "`channels` (=6)"),
    (lambda: connectivity("standard", 0), "`channels` (=0) must be a positive int"),
    (lambda: checkerboard(kernel_size=0), "`kernel_size` (=0) must be an int >= 1"),
    (lambda: checkerboard(upscale_factor=1), "`upscale_factor` (=1) must be an int >= 2"),
    (lambda: effective_field(rf_network(), (1, 1, 16, 16), init="zeros"),
     "`init` (='zeros') must be one of 'model', 'ones'"),
])
def test_figure_errors_are_pinned(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert str(e.value) == message or str(e.value).startswith(message)
    assert CONNECTIVITY_KINDS == ("conv", "group", "depthwise", "shuffle_group")


def test_overlap_count_is_the_transposed_layers_response_to_ones():
    layer = TransposedConv(1, 1, 3, 2, "same").double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.zero_()
        torch_count = layer(torch.ones(1, 1, 10, 10, dtype=torch.float64))[0, 0].numpy()
    count = overlap_count(3, 2, 10)
    np.testing.assert_array_equal(count, torch_count)
    assert set(np.unique(count[2:-2, 2:-2])) == {1.0, 2.0, 4.0}  # k=3 not divisible by s=2
    assert set(np.unique(overlap_count(4, 2, 10)[3:-3, 3:-3])) == {4.0}  # k=4 is: even


def test_checkerboard_only_the_transposed_conv_ripples():
    cb = checkerboard(3, 2, 32)
    assert cb.image.shape == (32, 32) and 0 <= cb.image.min() and cb.image.max() <= 1
    for m in METHODS:
        assert cb.upsampled[m].shape == (64, 64)
    # box kernels: the transposed conv's output on a constant input IS the overlap pattern
    inner = slice(6, -6)
    np.testing.assert_allclose(cb.flat["transposed"][inner, inner] * 9 / 4,
                               cb.overlap[inner, inner])
    assert cb.ripple_box["transposed"] == pytest.approx(4 / 3)  # (4 - 1) / mean 2.25
    assert cb.ripple_random["transposed"] > 0.1
    for m in ("resize_conv", "subpixel"):
        assert cb.ripple_box[m] < 1e-12 and cb.ripple_random[m] < 1e-12
    assert cb.ripple_box == pytest.approx(checkerboard(3, 2, 16).ripple_box)
    assert checkerboard(4, 2, 16).ripple_box["transposed"] < 1e-12  # divisible: no artifact
    assert checkerboard_figure(cb).size[0] > 500


def test_rf_growth_is_the_analysis():
    net, shape = rf_network(), (1, 1, 48, 48)
    steps = rf_growth(net, shape)
    assert [(s.layer, s.size, s.stride) for s in steps] == [
        ("conv1", 3, 1), ("conv2", 5, 1), ("down", 7, 2), ("conv3", 11, 2), ("dil2", 19, 2),
        ("dil4", 35, 2), ("head", 35, 2)]
    assert steps[-1].size == receptive_field(net, shape).sizes[0]
    root = ET.fromstring(rf_growth_svg(steps))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "r=35  S=2" in texts and "dil4" in texts
    with pytest.raises(ValueError, match="has no convzoo conv layer"):
        rf_growth(torch.nn.Sequential(torch.nn.ReLU()), shape)


def test_effective_field_is_the_input_gradient_inside_the_theoretical_field():
    net, shape = rf_network(), (1, 1, 48, 48)
    f = effective_field(net, shape, threshold=0.1)
    erf = empirical_receptive_field(net, shape, threshold=0.1, init="ones")
    assert f.effective == erf.spans and f.theoretical == erf.theoretical
    (y0, y1), (x0, x1) = f.theoretical
    assert y1 - y0 + 1 == 35
    outside = f.gradient.copy()
    outside[y0:y1 + 1, x0:x1 + 1] = 0
    assert (outside == 0).all() and f.gradient[y0:y1 + 1, x0:x1 + 1].min() > 0
    (e0, e1), _ = f.effective
    assert y0 < e0 and e1 < y1  # the effective field is smaller than the theoretical one
    g = f.gradient[(y0 + y1) // 2]
    assert g[(x0 + x1) // 2] > 10 * g[x0]  # peaked in the centre (Luo et al.)


def test_bars_show_compares_numbers():
    c = compare(8, 8, 3, 8, repeats=1, warmup=0)
    values = bar_values(c)
    assert list(values) == ["params", "MACs", "forward ms", "forward+backward ms"]
    assert values["MACs"] == [(v.name, v.macs) for v in c.variants]
    root = ET.fromstring(comparison_bars_svg(c))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    sep = c["separable"]
    assert f"{sep.params:,} ({sep.ratios['params']:.2f}x)" in texts
    assert list(bar_values(compare(8, 8, 3, 8, measure=False))) == ["params", "MACs"]


def test_latency_bars_have_iqr_whiskers_and_mark_ratios_inside_the_noise():
    """A loaded run (the issue's: 16.7 ms against 0.5 ms, nothing marked): each latency bar
    is the median with a whisker from q1 to q3, and a ratio whose IQR overlaps the
    baseline's is marked '~' and greyed, from compare's own quartiles and noise flags."""
    from dataclasses import replace

    from convzoo.analysis.timing import within_noise
    from convzoo.viz.bars import NOISE_NOTE, bar_whiskers

    c = compare(8, 8, 3, 8, measure=False)
    base, g2 = [0.4, 0.5, 0.6, 16.7, 0.5], [0.45, 0.5, 0.55, 0.5, 0.48]  # ms, per repeat
    fast = [0.1, 0.11, 0.12, 0.1, 0.11]
    samples = {c.variants[0].name: base, c.variants[1].name: g2}
    rows = []
    for v in c.variants:
        t = [x / 1e3 for x in samples.get(v.name, fast)]
        q1, _, q3 = quartiles(t)
        b1, _, b3 = quartiles([x / 1e3 for x in base])
        noise = {} if v.name == c.baseline else {k: within_noise(t, [x / 1e3 for x in base])
                                                 for k in ("forward", "forward_backward")}
        med, bmed = statistics.median(t) * 1e3, statistics.median(base)
        rows.append(replace(v, forward_ms=med, forward_backward_ms=med,
                            forward_quartiles_ms=(q1 * 1e3, q3 * 1e3),
                            forward_backward_quartiles_ms=(q1 * 1e3, q3 * 1e3), noise=noise,
                            ratios={**v.ratios, "forward": med / bmed,
                                    "forward_backward": med / bmed}))
    c = replace(c, variants=rows, measured=True)
    assert bar_whiskers(c)["forward ms"][0] == pytest.approx((0.5, 0.6))
    root = ET.fromstring(comparison_bars_svg(c))
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    g2_row, fast_row = rows[1], rows[2]
    assert g2_row.noise["forward"] and not fast_row.noise["forward"]
    assert f"{g2_row.forward_ms:.3f} ms ({g2_row.ratios['forward']:.2f}x~, inside the noise)" \
        in texts
    assert f"{fast_row.forward_ms:.3f} ms ({fast_row.ratios['forward']:.2f}x)" in texts
    assert NOISE_NOTE in texts
    grey = [t.text for t in root.iter(f"{ns}text") if t.get("fill") == "#595959"]
    assert grey and all("inside the noise" in t for t in grey)
    assert contrast_ratio("#595959", "#ffffff") >= 4.5
    # a whisker per latency bar: a horizontal line from q1 to q3 and two end caps, at the
    # scale of its bar (the bar's length is the median)
    lines = [(float(e.get("x1")), float(e.get("x2")), float(e.get("y1")), float(e.get("y2")))
             for e in root.iter(f"{ns}line") if e.get("stroke") == "#000000"]
    spans = [(x1, x2) for x1, x2, y1, y2 in lines if y1 == y2]
    assert len(spans) == 2 * len(rows) and len(lines) == 6 * len(rows)
    bars = [e for e in root.iter(f"{ns}rect") if e.get("fill") not in ("#ffffff", None)]
    left = float(bars[0].get("x"))
    latency_bars = bars[2 * len(rows):3 * len(rows)]  # the forward panel
    for bar, (x1, x2), v in zip(latency_bars, spans[:len(rows)], rows):
        scale = float(bar.get("width")) / v.forward_ms
        q1, q3 = v.forward_quartiles_ms
        assert (x1 - left) / scale == pytest.approx(q1, rel=0.02)
        assert (x2 - left) / scale == pytest.approx(q3, rel=0.02)


def test_old_names_of_the_figures_warn():
    with pytest.warns(FutureWarning, match=r"`connectivity\('shuffle'\)` is deprecated .* use "
                                           r"`connectivity\('shuffle_group'\)`"):
        assert connectivity("shuffle", 8, 2).kind == "shuffle_group"
    with pytest.warns(FutureWarning, match=r"`kernel` is deprecated .* use `kernel_size`"):
        cb = checkerboard(kernel=3, size=16)
    with pytest.warns(FutureWarning, match=r"`Checkerboard.factor` is deprecated"):
        assert cb.factor == cb.upscale_factor == 2
    with pytest.warns(FutureWarning, match=r"`kernel` is deprecated .* use `kernel_size`"):
        np.testing.assert_array_equal(overlap_count(kernel=3, stride=2, size=6),
                                      overlap_count(3, 2, 6))
