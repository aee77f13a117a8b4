"""Models this project did not write, through ``optimize``: transformers' vision and speech
models built from small configs (random weights, BatchNorm statistics randomized), exact on
fresh inputs of every regime; SegFormer's first-call set-up refused with the warm-up hint,
then exact after one warm-up call (its output-capturing hooks are captured)."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn
from plain_nets import randomize_batchnorms

from convzoo.fast import optimize
from convzoo.fast.refusal import Refusal
from convzoo.fast.regimes import regimes
from convzoo.fast.verify import compare

T = pytest.importorskip("transformers")


def _segformer() -> nn.Module:
    return T.SegformerForSemanticSegmentation(T.SegformerConfig(
        num_channels=3, depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 32, 64],
        num_attention_heads=[1, 1, 2, 2], decoder_hidden_size=32, num_labels=3))


MODELS = {
    "resnet": (lambda: T.ResNetModel(T.ResNetConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 32, 64], embedding_size=8)), (1, 3, 64, 64)),
    "convnext": (lambda: T.ConvNextModel(T.ConvNextConfig(
        depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 32, 64])), (1, 3, 64, 64)),
    "wav2vec2": (lambda: T.Wav2Vec2Model(T.Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
        conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2)), (1, 4000)),
}


def _exact_on_regimes(model: nn.Module, fast: nn.Module, shape: tuple[int, ...]) -> None:
    for regime in regimes(torch.randn(shape), 99):
        with torch.no_grad():
            why = compare(fast(regime.input), model(regime.input))[2]
        assert why is None, (regime.name, why)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_transformers_models_exact(name: str) -> None:
    make, shape = MODELS[name]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = randomize_batchnorms(make(), seed=0).eval()
        fast = optimize(model, torch.randn(shape))
        _exact_on_regimes(model, fast, shape)


def test_segformer_warm_up_then_exact() -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _segformer().eval()
        x = torch.randn(1, 3, 64, 64)
        with pytest.raises(Refusal, match=r"^`model` \(SegformerForSemanticSegmentation\) "
                           r"cannot be optimized soundly with backend='torch': module "
                           r"'segformer' \(SegformerModel\): forward changes attribute "
                           r"'_output_capturing_hooks_installed' \(absent, now True\) on its "
                           r"first call only .*: call the model once on an input before "
                           r"optimize$"):
            optimize(model, x)
        with torch.no_grad():
            model(x)  # the warm-up call the message asks for
        fast = optimize(model, x)
        assert fast.report.hooks and all("output_capturing_hook" in h
                                         for h in fast.report.hooks)
        _exact_on_regimes(model, fast, (1, 3, 64, 64))
