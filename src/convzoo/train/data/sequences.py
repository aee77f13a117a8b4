"""Generated sequences for WaveNet: sums of sines, mu-law quantized, next-step prediction.

Each sequence is ``sum_k a_k sin(2 pi f_k t + phi_k)`` with 1 to 3 components of random
frequency, amplitude and phase, plus a little noise, squashed to ``[-1, 1]``, mu-law companded
and quantized to ``Q`` codes (WaveNet's 8-bit mu-law with ``Q = 256``; default 64 here).
Input: codes ``0..T-1``; target: codes ``1..T`` (the next step at every position).
"""

from __future__ import annotations

import numpy as np
import torch

from convzoo.train.data.base import Defaults, TaskData, check_int, check_limit

__all__ = ["mu_law_encode", "load_sequences"]


def mu_law_encode(signal: np.ndarray, levels: int) -> np.ndarray:
    """Mu-law companding of ``signal`` in ``[-1, 1]`` quantized to ``0..levels-1``.

    >>> mu_law_encode(np.array([-1.0, 0.0, 1.0]), 256).tolist()
    [0, 128, 255]
    """
    mu = levels - 1
    y = np.sign(signal) * np.log1p(mu * np.abs(signal)) / np.log1p(mu)
    return np.clip(np.floor((y + 1) / 2 * mu + 0.5), 0, mu).astype(np.int64)


def load_sequences(length: int = 256, levels: int = 64, n_train: int = 800, n_test: int = 100,
                   seed: int = 0, limit: int | None = None) -> TaskData:
    """Quantized sine-mixture sequences (generated, seeded).

    Args:
        length: steps ``T`` per sample (default 256). levels: quantization codes ``Q``
            (default 64). n_train, n_test: sequences per split. seed: generator seed.
        limit: keep at most this many sequences per split.

    Shape:
        inputs ``(N, T)`` codes (long); targets ``(N, T)`` next codes (long).

    >>> d = load_sequences(length=16, n_train=3, n_test=1)
    >>> d.x_train.shape, d.y_train.shape, d.num_classes
    (torch.Size([3, 16]), torch.Size([3, 16]), 64)
    """
    check_int("length", length, 2)
    check_int("levels", levels, 2)
    check_limit(limit)
    if limit is not None:
        n_train, n_test = min(n_train, limit), min(n_test, limit)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    t = np.arange(length + 1)[None, :]
    signal = np.zeros((n, length + 1))
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            f = rng.uniform(0.005, 0.08)
            signal[i] += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f * t[0] + rng.uniform(0, 6.3))
    signal += rng.normal(0, 0.01, signal.shape)
    signal = np.tanh(signal)
    codes = torch.from_numpy(mu_law_encode(signal, levels))
    x, y = codes[:, :-1].contiguous(), codes[:, 1:].contiguous()
    return TaskData("sequences", "sequence", x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                    levels, {"quantization": levels},
                    Defaults(10, 16, 2e-3))
