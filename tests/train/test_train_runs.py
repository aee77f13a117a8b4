"""Run folders: a folder holding a run is refused unless ``resume`` or ``force``; ``resume``
may extend the number of epochs (the cosine schedule is recomputed for the new total); bad
``--out`` paths are one-line errors before anything trains."""

from __future__ import annotations

import math

import pytest

import convzoo.train
from convzoo.cli.main import main
from convzoo.train import CHECKPOINT, TrainConfig, load_checkpoint, train

TINY = dict(batch_size=8, limit=32, model_config={"base_channels": 4}, progress=False, threads=1)


def tiny(out=None, **kw):
    return TrainConfig("digits_separable", "digits", out=out, **{**TINY, **kw})


def test_a_folder_holding_a_run_is_refused_unless_resume_or_force(tmp_path):
    first = train(tiny(tmp_path, epochs=1))
    with pytest.raises(ValueError) as e:
        tiny(tmp_path, epochs=1)
    assert str(e.value) == (
        f"`out` (={str(tmp_path)!r}) already holds a run (last.pt, metrics.csv, metrics.json); "
        "pass resume to continue it or force to overwrite it")
    again = train(tiny(tmp_path, epochs=1, force=True))  # afresh: the same run again
    assert again.steps == first.steps
    assert load_checkpoint(tmp_path / CHECKPOINT)["global_step"] == 4


def test_an_empty_or_missing_folder_is_fine(tmp_path):
    assert tiny(tmp_path, epochs=1).out == tmp_path
    assert tiny(tmp_path / "a" / "b", epochs=1).out == tmp_path / "a" / "b"


def test_resume_extends_the_epoch_count_with_the_cosine_schedule_of_the_new_total(tmp_path):
    train(tiny(tmp_path, epochs=1))  # 4 steps, the learning rate annealed to 0
    longer = train(tiny(tmp_path, epochs=3, resume=True))
    assert longer.steps == 12 and [row["epoch"] for row in longer.history] == [1, 2, 3]
    state = load_checkpoint(tmp_path / CHECKPOINT)
    assert state["meta"]["epochs"] == 3 and state["epoch"] == 3
    base, total = state["meta"]["lr"], 12  # the data set's peak learning rate; 3 x 4 steps
    assert longer.history[0]["lr"] == pytest.approx(0.0, abs=1e-12)  # the first run's end
    for row in longer.history[1:]:  # after the resume: the curve planned for 12 steps
        expected = base * (1 + math.cos(math.pi * row["step"] / total)) / 2
        assert row["lr"] == pytest.approx(expected, rel=1e-9)
    assert longer.history[1]["lr"] > base / 10  # training goes on at a useful rate


def test_resume_cannot_go_below_the_epochs_already_done(tmp_path):
    train(tiny(tmp_path, epochs=2))
    with pytest.raises(ValueError) as e:
        train(tiny(tmp_path, epochs=1, resume=True))
    assert str(e.value) == (f"`epochs` (=1) must be at least the 2 epochs the checkpoint "
                            f"'{tmp_path / CHECKPOINT}' completed")


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(convzoo.train, "train", refuse)


@pytest.mark.parametrize(("out", "message"), [
    ("/etc/passwd/x", "`--out` (='/etc/passwd/x') cannot be written: '/etc/passwd' is not a "
     "directory"),
    ("/etc/passwd", "`--out` (='/etc/passwd') cannot be written: '/etc/passwd' is not a "
     "directory"),
])
def test_cli_bad_out_is_one_line_before_any_training(monkeypatch, capsys, out, message):
    _no_training(monkeypatch)
    assert main(["train", "digits_separable", "--data", "digits", "--out", out]) == 2
    assert capsys.readouterr().err == f"convzoo: error: {message}\n"


def test_cli_refuses_a_run_folder_unless_force(monkeypatch, capsys, tmp_path):
    (tmp_path / CHECKPOINT).write_bytes(b"")
    _no_training(monkeypatch)
    assert main(["train", "digits_separable", "--data", "digits", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"convzoo: error: `--out` (={str(tmp_path)!r}) already holds a run (last.pt); pass "
        "--resume to continue it or --force to overwrite it\n")
    monkeypatch.undo()
    assert main(["train", "digits_separable", "--data", "digits", "--out", str(tmp_path),
                 "--force", "--epochs", "1", "--batch-size", "8", "--limit", "16", "--set",
                 "base_channels=4", "--no-progress", "--threads", "1", "--json"]) == 0
    assert load_checkpoint(tmp_path / CHECKPOINT)["global_step"] == 2
