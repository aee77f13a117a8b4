"""Offline data sets: shapes, ranges, determinism and pinned error messages."""

import pytest
import torch

from convzoo.train.data import available, load_dataset
from convzoo.train.data.moving_digits import DIRECTIONS
from convzoo.train.data.superres import bicubic_upscale


def test_every_dataset_loads_small_and_is_seeded():
    for name in available():
        a, b = load_dataset(name, limit=3), load_dataset(name, limit=3)
        assert len(a.x_train) == 3 and len(a.x_test) <= 3
        assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_train, b.y_train)


def test_digits_split_and_standardization():
    d = load_dataset("digits")
    assert d.x_train.shape == (1438, 1, 16, 16) and d.x_test.shape == (359, 1, 16, 16)
    assert abs(float(d.x_train.mean())) < 1e-4 and abs(float(d.x_train.std()) - 1) < 1e-3
    assert set(d.y_test.tolist()) == set(range(10))


def test_lfw_faces_is_balanced_binary():
    d = load_dataset("lfw_faces")
    labels = torch.cat([d.y_train, d.y_test])
    assert labels.bincount().tolist() == [100, 100]


def test_shapes_masks_match_bright_pixels():
    d = load_dataset("shapes", n_train=20, n_test=1)
    x, y = d.x_train[:, 0], d.y_train
    assert y.max() <= 3 and (y > 0).any()
    # shapes are brighter than the background (0.55+ vs <= 0.35, noise sigma 0.06)
    assert float(x[y > 0].mean()) > float(x[y == 0].mean()) + 0.3


def test_moving_digits_move_in_the_labelled_direction():
    d = load_dataset("moving_digits", n_train=8, n_test=1)
    for clip, label in zip(d.x_train, d.y_train):
        f0, f1 = clip[0, 0], clip[0, 1]
        dy, dx = DIRECTIONS[int(label)][1]
        errs = {s: float((torch.roll(f0, (dy * s, dx * s), (0, 1)) - f1).abs().mean())
                for s in (1, 2)}
        wrong = float((torch.roll(f0, (-dy, -dx), (0, 1)) - f1).abs().mean())
        assert min(errs.values()) < wrong


def test_superres_pairs_and_bicubic_baseline():
    d = load_dataset("superres", n_train=4, n_test=4)
    assert d.x_train.shape == (4, 1, 16, 16) and d.y_train.shape == (4, 1, 48, 48)
    assert d.x_test.shape == (4, 1, 48, 48) and d.y_test.shape == (4, 1, 144, 144)
    assert bicubic_upscale(d.x_test, 3).shape == d.y_test.shape
    assert 0 <= float(d.y_train.min()) and float(d.y_train.max()) <= 1


def test_sequences_targets_are_inputs_shifted():
    d = load_dataset("sequences", length=32, n_train=2, n_test=1)
    assert torch.equal(d.x_train[:, 1:], d.y_train[:, :-1])
    assert int(d.x_train.max()) < 64


def test_digits_gan_range():
    d = load_dataset("digits_gan", limit=10)
    assert d.x_train.shape == (10, 1, 32, 32)
    assert float(d.x_train.min()) >= -1 and float(d.x_train.max()) <= 1


@pytest.mark.parametrize("name, options, message", [
    ("mnist", {}, "`data` (='mnist') must be one of: digits, lfw_faces"),
    ("digits", {"colour": 1}, "unknown option colour for data set 'digits'; valid: size, seed"),
    ("digits", {"limit": 0}, "`limit` (=0) must be None or a positive int"),
    ("digits", {"size": 4}, "`size` (=4) must be an int >= 8"),
    ("superres", {"patch": 40},
     "`patch` (=40) must be a multiple of `upscale_factor` (=3), >= 9"),
])
def test_bad_options(name, options, message):
    with pytest.raises(ValueError) as e:
        load_dataset(name, **options)
    assert str(e.value).startswith(message)


def test_superres_scale_is_a_deprecated_name_of_upscale_factor():
    from convzoo.train.tasks import SuperResTask

    with pytest.warns(FutureWarning, match=r"`scale` is deprecated .* use `upscale_factor`"):
        d = load_dataset("superres", scale=2, n_train=2, n_test=2)
    assert d.extra == {"upscale_factor": 2} and d.x_train.shape[-1] * 2 == d.y_train.shape[-1]
    task = SuperResTask(d)
    with pytest.warns(FutureWarning, match=r"`SuperResTask.scale` is deprecated"):
        assert task.scale == task.upscale_factor == 2
