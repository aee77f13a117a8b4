"""Atomic, self-describing checkpoints: model, optimizer, scheduler, RNG states, position.

A checkpoint is written to a temporary file in the same folder, flushed and fsync'ed, then
moved over the old one with ``os.replace`` (atomic on POSIX), and the folder is fsync'ed: a run
killed at any instant leaves either the previous checkpoint or the new one, never a torn file.
Loading checks the format and what the checkpoint was made for, and turns every failure into
one line of ``ValueError``.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["FORMAT", "atomic_write_bytes", "save_checkpoint", "load_checkpoint", "rng_state",
           "set_rng_state", "check_matches"]

#: Format tag stored in every checkpoint.
FORMAT = "convzoo-train-checkpoint/1"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic(path: Path, write: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    _atomic(path, lambda f: f.write(data))


def rng_state() -> dict[str, Any]:
    """The torch, NumPy (legacy global) and Python RNG states, as tensors/ints/tuples only
    (loadable with ``torch.load(weights_only=True)``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                  float(gauss)),
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by :func:`rng_state`.

    >>> s = rng_state(); a = torch.rand(1); set_rng_state(s); bool(torch.rand(1) == a)
    True
    """
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Save ``state`` (plus the format tag) to ``path`` atomically."""
    payload = {"format": FORMAT, **state}
    _atomic(Path(path), lambda f: torch.save(payload, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        ValueError: (one line) if the file is missing, unreadable, corrupt or not a convzoo
            checkpoint.

    >>> load_checkpoint(Path("/nonexistent/last.pt"))
    Traceback (most recent call last):
    ...
    ValueError: checkpoint '/nonexistent/last.pt' does not exist
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint '{path}' does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle, zip, EOF, unpickling errors all mean corrupt
        first = (str(e).strip().splitlines() or [""])[0][:160]
        raise ValueError(f"checkpoint '{path}' is corrupt or not a convzoo checkpoint "
                         f"({type(e).__name__}: {first})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"checkpoint '{path}' is not a convzoo checkpoint (format {found!r}, "
                         f"expected {FORMAT!r})")
    return state


def check_matches(path: Path, stored: dict[str, Any], expected: dict[str, Any]) -> None:
    """ValueError naming the first field whose stored value differs from the expected one.

    >>> check_matches(Path("c.pt"), {"lr": 0.1}, {"lr": 0.2})
    Traceback (most recent call last):
    ...
    ValueError: checkpoint 'c.pt' does not match this run: lr is 0.1 in the checkpoint, 0.2 now
    """
    for key, value in expected.items():
        if stored.get(key) != value:
            raise ValueError(f"checkpoint '{path}' does not match this run: {key} is "
                             f"{stored.get(key)!r} in the checkpoint, {value!r} now")
