"""The training loop: a tiny run, bit-exact resume, one-line errors for bad configs."""

import json

import pytest
import torch

from convzoo.train import CHECKPOINT, TrainConfig, load_checkpoint, train
from convzoo.train.tasks import ClassificationTask

TINY = dict(epochs=2, batch_size=8, limit=32, model_config={"base_channels": 4}, progress=False,
            threads=1)


def tiny(out=None, **kw):
    return TrainConfig("digits_separable", "digits", out=out, **{**TINY, **kw})


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_tiny_run_writes_logs_and_checkpoint(tmp_path):
    r = train(tiny(tmp_path))
    assert r.steps == 8 and len(r.history) == 2
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy"} <= set(r.final)
    csv = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv[0].startswith("epoch,step,train_loss,train_accuracy,test_loss") and len(csv) == 3
    meta = json.loads((tmp_path / "metrics.json").read_text())["meta"]
    assert meta["model"] == "digits_separable" and meta["final"]["epoch"] == 2
    state = load_checkpoint(tmp_path / CHECKPOINT)
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (2, 0, 8)
    assert {"model", "optimizer", "scheduler", "rng", "sums", "history"} <= set(state)


def test_loss_decreases_over_a_short_run():
    r = train(tiny(epochs=4, limit=64, lr=5e-3))
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]


def test_same_seed_same_weights_other_seed_differs():
    a, b, c = train(tiny(epochs=1)), train(tiny(epochs=1)), train(tiny(epochs=1, seed=1))
    assert same_weights(a.model, b.model) and not same_weights(a.model, c.model)


@pytest.mark.parametrize("crash_at", [3, 4, 6])  # mid-epoch 0, epoch boundary, mid-epoch 1
def test_resume_after_crash_is_bit_exact(tmp_path, monkeypatch, crash_at):
    reference = train(tiny(checkpoint_every=1))
    real = ClassificationTask.train_step
    calls = {"n": 0}

    def crashing(self, *args):
        calls["n"] += 1
        if calls["n"] > crash_at:
            raise KeyboardInterrupt  # the process dies after `crash_at` steps
        return real(self, *args)

    monkeypatch.setattr(ClassificationTask, "train_step", crashing)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, checkpoint_every=1))
    assert load_checkpoint(tmp_path / CHECKPOINT)["global_step"] == crash_at
    monkeypatch.setattr(ClassificationTask, "train_step", real)
    resumed = train(tiny(tmp_path, checkpoint_every=1, resume=True))
    assert resumed.steps == reference.steps == 8
    assert same_weights(resumed.model, reference.model)
    strip = [{k: v for k, v in row.items() if k not in ("wall_s", "samples_per_s")}
             for row in resumed.history]
    assert strip == [{k: v for k, v in row.items() if k not in ("wall_s", "samples_per_s")}
                     for row in reference.history]


def test_resume_of_a_finished_run_trains_no_more(tmp_path):
    first = train(tiny(tmp_path))
    again = train(tiny(tmp_path, resume=True))
    assert again.steps == first.steps and same_weights(first.model, again.model)


def test_resume_errors(tmp_path):
    with pytest.raises(ValueError) as e:
        train(tiny(tmp_path, resume=True))
    assert str(e.value) == f"checkpoint '{tmp_path / CHECKPOINT}' does not exist"
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(ValueError) as e:
        train(tiny(tmp_path, epochs=1, lr=0.5, resume=True))
    assert str(e.value) == (f"checkpoint '{tmp_path / CHECKPOINT}' does not match this run: "
                            "lr is 0.003 in the checkpoint, 0.5 now")
    with pytest.raises(ValueError, match="does not match this run: model_config is"):
        train(tiny(tmp_path, epochs=1, resume=True, model_config={"base_channels": 8}))
    (tmp_path / CHECKPOINT).write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="is corrupt or not a convzoo checkpoint"):
        train(tiny(tmp_path, epochs=1, resume=True))


@pytest.mark.parametrize("model, data, kw, message", [
    ("nope", "digits", {}, "`name` (='nope') must be one of:"),
    ("digits_separable", "mnist", {}, "`data` (='mnist') must be one of: digits"),
    ("digits_separable", "digits", {"model_config": {"widht": 4}},
     "unknown config field widht for model 'digits_separable' (SeparableClassifierConfig); "
     "valid: base_channels, blocks, dropout, in_channels, num_classes"),
    ("digits_separable", "digits", {"model_config": {"base_channels": 0}},
     "`base_channels` (=0) must be a positive int"),
    ("clips_r2plus1d", "digits", {}, "model 'clips_r2plus1d' cannot take the input of data set "
     "'digits' (shape (2, 1, 16, 16)): "),
    ("digits_separable", "shapes", {}, "model 'digits_separable' is incompatible with data set "
     "'shapes' (segmentation): it outputs (2, 4), the task needs per-pixel logits (N, 4, H, W) "
     "at the input resolution = (2, 4, 32, 32)"),
    ("digits_separable", "digits", {"epochs": 0}, "`epochs` (=0) must be a positive int"),
    ("digits_separable", "digits", {"lr": -1.0}, "`lr` (=-1.0) must be a positive float"),
])
def test_bad_configs_are_one_line_errors(model, data, kw, message):
    with pytest.raises(ValueError) as e:
        train(TrainConfig(model, data, limit=4, progress=False, **kw))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_factory_models_are_accepted():
    def factory():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 10))

    r = train(TrainConfig(factory, "digits", epochs=1, batch_size=8, limit=16, progress=False))
    assert r.steps == 2


def test_a_run_saved_before_the_renames_resumes(tmp_path):
    """A checkpoint whose meta has the old config names (``width`` before ``base_channels``)
    still matches this run; a real difference is still refused."""
    from convzoo.train.checkpoint import save_checkpoint

    first = train(tiny(tmp_path, epochs=1))
    state = load_checkpoint(tmp_path / CHECKPOINT)
    config = dict(state["meta"]["model_config"])
    config["width"] = config.pop("base_channels")  # as written before 0.1's renames
    state["meta"]["model_config"] = config
    save_checkpoint(tmp_path / CHECKPOINT, state)
    again = train(tiny(tmp_path, epochs=1, resume=True))
    assert same_weights(first.model, again.model)
    with pytest.raises(ValueError, match="does not match this run: model_config is"):
        train(tiny(tmp_path, epochs=1, resume=True, model_config={"base_channels": 8}))
