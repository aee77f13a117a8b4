"""Models this project did not write, built from ``transformers`` configs with random weights
(no download: every config is written here, small): SegFormer (both heads), DPT, UperNet (ConvNeXt
backbone), ConvNeXt, MobileViT, Wav2Vec2 and ViT.

On each, ``summary`` and ``receptive_field`` must run; the MACs must equal
``torch.utils.flop_counter.FlopCounterMode`` (which reports FLOPs = 2 x MACs) on a real CPU
forward with eager attention; and every coordinate of the output (and of a named layer) is
compared with the gradient support of the model's own weights in float64, activations made
the identity (a dead ReLU of random weights hides a dependency the structure has): an
``exact`` field must equal it everywhere, any other must contain it
(``tests/analysis/oracle.py``).
"""

from __future__ import annotations

import pytest
import torch
from tests.analysis.oracle import check, identity_activations
from torch.utils.flop_counter import FlopCounterMode

from convzoo.analysis import receptive_field, summary

transformers = pytest.importorskip("transformers")


def _segformer_config():
    return transformers.SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
        hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2],
        mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=3)


def _convnext_config(**kwargs):
    return transformers.ConvNextConfig(num_channels=3, hidden_sizes=[8, 16, 24, 32],
                                       depths=[1, 1, 1, 1], **kwargs)


MODELS = {
    # name: (build, input shape, layers checked besides the output)
    "segformer": (lambda: transformers.SegformerForSemanticSegmentation(_segformer_config()),
                  (1, 3, 32, 32), ("segformer.stages.0.patch_embeddings",)),
    "segformer-classification": (lambda: transformers.SegformerForImageClassification(
        _segformer_config()), (1, 3, 32, 32), ("segformer.stages.0.blocks.0",)),
    "dpt": (lambda: transformers.DPTForDepthEstimation(transformers.DPTConfig(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        image_size=32, patch_size=8, backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16,
        reassemble_factors=[4, 2, 1, 0.5], head_in_index=-1)), (1, 3, 32, 32),
        ("dpt.embeddings",)),
    "upernet": (lambda: transformers.UperNetForSemanticSegmentation(transformers.UperNetConfig(
        backbone_config=_convnext_config(
            out_features=["stage1", "stage2", "stage3", "stage4"]),
        hidden_size=16, auxiliary_in_channels=24, num_labels=3, use_auxiliary_head=False)),
        (1, 3, 64, 64), ("backbone.encoder.stages.1",)),
    "convnext": (lambda: transformers.ConvNextModel(_convnext_config()), (1, 3, 64, 64),
                 ("encoder.stages.1",)),
    "mobilevit": (lambda: transformers.MobileViTModel(transformers.MobileViTConfig(
        image_size=64, hidden_sizes=[16, 24, 32], neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 48],
        num_attention_heads=2)), (1, 3, 64, 64), ("encoder.layer.1",)),
    "wav2vec2": (lambda: transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8, 8), conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)), (1, 1600),
        ("feature_extractor",)),
    "vit": (lambda: transformers.ViTModel(transformers.ViTConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        image_size=32, patch_size=8)), (1, 3, 32, 32), ("embeddings",)),
}


def _build(name: str) -> tuple[torch.nn.Module, tuple[int, ...], tuple[str, ...]]:
    build, shape, layers = MODELS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build().eval()
    return model, shape, layers


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_external_model_counts_equal_flop_counter_and_spans_hold(name):
    model, shape, layers = _build(name)
    s = summary(model, shape)
    model.config._attn_implementation = "eager"  # matmuls FlopCounterMode sees on the CPU
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.randn(shape))
    assert s.totals.flops == 2 * s.totals.macs == counter.get_total_flops(), name
    rfs = {layer: receptive_field(model, shape, layer=layer, dtype=torch.float64)
           for layer in (None, *layers)}
    model = identity_activations(model.double())
    checked = 0
    for layer in (None, *layers):
        right, total, rf = check(model, shape, inputs=2, layer=layer, rf=rfs[layer],
                                 make_input=lambda gen: torch.randn(shape, generator=gen,
                                                                    dtype=torch.float64))
        assert not any("not modelled here" in n for n in rf.notes), (name, layer, rf.notes)
        checked += total
        print(f"{name} {layer or 'output'}: {'exact' if rf.exact else 'inexact'}, "
              f"{right}/{total} coordinates equal the gradient support")
    assert checked > 0
