"""Every task trains for one tiny epoch with a zoo model (few samples, small widths)."""

import math

import pytest
import torch
from PIL import Image

from convzoo.train import TrainConfig, train

CASES = [
    ("digits_separable", "lfw_faces", {"base_channels": 4}, {}, "test_accuracy"),
    ("clips_r2plus1d", "moving_digits", {"base_channels": 4}, {}, "test_accuracy"),
    ("r2plus1d", "moving_digits", {"layers": (1, 1, 1, 1), "widths": (4, 4, 4, 4)}, {},
     "test_accuracy"),
    ("c3d", "moving_digits", {"base_channels": 2, "fc_features": 8}, {"frames": 16, "size": 32},
     "test_accuracy"),
    ("unet", "shapes", {"base_channels": 4, "depth": 2}, {"size": 16}, "test_mean_iou"),
    ("unet", "shapes", {"base_channels": 4, "depth": 2, "upsampler": "subpixel"},
     {"size": 16}, "test_mean_iou"),
    ("espcn", "superres", {}, {"patch": 24, "test_patch": 24}, "test_psnr"),
    ("espcn", "superres", {"upsampler": "resize_conv"}, {"patch": 24, "test_patch": 24},
     "test_psnr"),
    ("wavenet", "sequences", {"layers_per_block": 3, "blocks": 1, "residual_channels": 4,
                              "dilation_channels": 4, "skip_channels": 8},
     {"length": 32, "levels": 16}, "test_accuracy"),
    ("dcgan_generator", "digits_gan", {"nz": 8, "ngf": 4}, {}, "test_d_accuracy"),
]


@pytest.mark.parametrize("model, data, model_config, data_config, metric", CASES)
def test_one_tiny_epoch(tmp_path, model, data, model_config, data_config, metric):
    r = train(TrainConfig(model, data, epochs=1, batch_size=4, limit=8, out=tmp_path,
                          model_config=model_config, data_config=data_config, progress=False,
                          threads=1))
    assert r.steps == 2 and math.isfinite(r.final["train_loss"]) and metric in r.final
    if data == "superres":
        assert r.final["test_psnr_gain"] == r.final["test_psnr"] - r.final["test_bicubic_psnr"]
    if data == "digits_gan":
        assert Image.open(tmp_path / "samples.png").size == (8 * 33 + 1, 8 * 33 + 1)


def test_dcgan_needs_nz_and_data_sets_output_channels():
    with pytest.raises(ValueError) as e:
        train(TrainConfig("digits_separable", "digits_gan", limit=4, progress=False))
    assert str(e.value) == ("data set 'digits_gan' trains a generator: the model's config needs "
                            "a positive int field `nz` (noise channels), got None")


def test_wrong_input_size_for_a_model():
    with pytest.raises(ValueError) as e:
        train(TrainConfig("vgg16", "digits", limit=4, progress=False))
    assert str(e.value).startswith("model 'vgg16' cannot take the input of data set 'digits' "
                                   "(shape (2, 1, 16, 16)): ")


def test_c3d_on_clips_too_short_for_it():
    with pytest.raises(ValueError) as e:
        train(TrainConfig("c3d", "moving_digits", limit=4, progress=False,
                          model_config={"base_channels": 2, "fc_features": 8}))
    assert str(e.value) == ("`clip_shape` (=(8, 16, 16)) is too small: pool5 would be (0, 1, 1) "
                            "(T >= 16 and H, W >= 16 needed)")


def test_gan_resume_restores_the_discriminator_bit_exactly(tmp_path, monkeypatch):
    from convzoo.train.gan import GANTask

    def cfg(**kw):
        return TrainConfig("dcgan_generator", "digits_gan", epochs=2, batch_size=4, limit=12,
                           model_config={"nz": 8, "ngf": 4}, progress=False, threads=1,
                           checkpoint_every=1, **kw)

    reference = train(cfg())
    real, calls = GANTask.train_step, {"n": 0}

    def crashing(self, *args):
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(GANTask, "train_step", crashing)
    with pytest.raises(KeyboardInterrupt):
        train(cfg(out=tmp_path))
    monkeypatch.setattr(GANTask, "train_step", real)
    resumed = train(cfg(out=tmp_path, resume=True))
    ref = reference.model.state_dict()
    assert all(torch.equal(resumed.model.state_dict()[k], ref[k]) for k in ref)
    assert resumed.history[-1]["test_d_loss"] == reference.history[-1]["test_d_loss"]
