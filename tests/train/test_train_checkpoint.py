"""Checkpoints: atomic writes, RNG round trip, one-line errors for bad files."""

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from convzoo.train.checkpoint import (
    atomic_write_bytes,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)


def test_round_trip(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.arange(3.0)}, "epoch": 2})
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and torch.equal(state["model"]["w"], torch.arange(3.0))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"epoch": 1})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_checkpoint(path, {"epoch": 2, "bad": Boom()})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_atomic_write_uses_replace(tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    atomic_write_bytes(tmp_path / "x.txt", b"hi")
    assert (tmp_path / "x.txt").read_bytes() == b"hi"
    assert Path(calls[0][1]) == tmp_path / "x.txt" and Path(calls[0][0]).parent == tmp_path


def test_rng_round_trip():
    state = rng_state()
    a = (torch.rand(2), np.random.rand(2), random.random())
    set_rng_state(state)
    b = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.mark.parametrize("content, message", [
    (b"", "is corrupt or not a convzoo checkpoint (EOFError"),
    (b"garbage bytes" * 10, "is corrupt or not a convzoo checkpoint ("),
])
def test_corrupt_file(tmp_path, content, message):
    path = tmp_path / "c.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        load_checkpoint(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(1000)}})
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="is corrupt or not a convzoo checkpoint"):
        load_checkpoint(path)


def test_foreign_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(ValueError) as e:
        load_checkpoint(path)
    assert str(e.value) == (f"checkpoint '{path}' is not a convzoo checkpoint (format None, "
                            "expected 'convzoo-train-checkpoint/1')")
