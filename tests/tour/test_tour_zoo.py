"""The zoo section of ``convzoo tour``: rows counted by convzoo.analysis on meta tensors."""

from __future__ import annotations

from fractions import Fraction

from rich.console import Console

from convzoo.cli.tour_zoo import zoo_table
from convzoo.models import MODELS
from convzoo.tour.zoo import zoo_rows


def test_rows_reproduce_the_pinned_counts_and_fields():
    resnet, wavenet, espcn = zoo_rows(["resnet50", "wavenet", "espcn"])
    assert (resnet.params, resnet.macs) == (25_557_032, 4_089_184_256)
    # the last spatial map of ResNet-50 (before global pooling): r = 427, S = 32
    assert resnet.rf_sizes == (427, 427) and resnet.rf_strides == (32, 32)
    assert resnet.rf_layer.startswith("layer4")
    assert dict(resnet.kinds).keys() == {"conv", "pointwise"}
    assert abs(sum(share for _, share in resnet.kinds) - 1) < 1e-9
    # 3 blocks of 10 dilated layers (k=2) + the causal input conv: 3 * 1023 + 2 = 3071 samples
    assert wavenet.rf_sizes == (3071,) and "dilated" in dict(wavenet.kinds)
    # ESPCN ends in a x3 pixel shuffle: its output's effective stride is 1/3 of an input pixel
    assert espcn.rf_strides == (Fraction(1, 3), Fraction(1, 3))


def test_table_lists_every_row():
    rows = zoo_rows(["mobilenet_v2", "shufflenet_v2"])
    console = Console(width=200, record=True)
    console.print(zoo_table(rows))
    text = console.export_text()
    assert "mobilenet_v2" in text and "3.50M" in text and "300.77M" in text
    assert "pointwise 89%, depthwise 7%" in text  # the two largest kinds
    assert "shufflenet_v2" in text and "2.28M" in text


def test_every_model_declares_known_variants():
    from convzoo.arithmetic import variant_names

    for name, e in MODELS.items():
        assert e.variants and set(e.variants) <= set(variant_names()), (name, e.variants)
