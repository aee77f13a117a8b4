"""The training bars of docs/models.md (long runs: ``pytest -m slow tests/train``).

Each run trains in a few minutes on a 2-core CPU (single thread, see docs/models.md for the
measured numbers and wall times).
"""

import pytest

from convzoo.train import TrainConfig, train

pytestmark = pytest.mark.slow


def run(model, data, **kw):
    return train(TrainConfig(model, data, progress=False, threads=1, **kw)).final


def test_separable_classifier_on_digits():
    assert run("digits_separable", "digits")["test_accuracy"] >= 0.97


def test_unet_on_shapes():
    final = run("unet", "shapes", epochs=12,
                model_config={"base_channels": 16, "depth": 3, "batch_norm": True})
    assert final["test_mean_iou"] >= 0.90


def test_espcn_beats_bicubic():
    final = run("espcn", "superres", epochs=40, lr=3e-3)
    assert final["test_psnr"] > final["test_bicubic_psnr"]


def test_r2plus1d_on_moving_digits():
    assert run("clips_r2plus1d", "moving_digits")["test_accuracy"] >= 0.9  # chance: 0.25
