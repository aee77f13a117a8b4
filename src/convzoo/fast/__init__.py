"""convzoo.fast: ``optimize()`` for inference, and the benchmarks behind ``convzoo bench``.

The per-call fast paths (channels_last, FFT) and their dispatch live below the layers, in
:mod:`convzoo.functional` (``run_fast``, ``choose_path``); ``convzoo.layers`` calls them from
its forward passes. This package holds ``optimize``: graph capture (``capture``), exact
rewrites on the graph (``fold``, ``shuffle_fold``, ``interleave``, ``plan``, ``fuse``,
``precision``, ``fft_guard``), what a forward may change (``state``, ``tracer_errors``,
``rounding``), verification (``regimes``, ``verify``), what a call returns (``outputs``)
and backends (``backends``); refusals are :class:`~convzoo.fast.refusal.Refusal`. Loaded
on first use of ``convzoo.fast.optimize`` or ``convzoo.optimize`` (``import convzoo`` and
``import convzoo.fast`` import neither torch nor the layers).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Refusal", "optimize"]


def __getattr__(name: str) -> Any:
    if name == "optimize":  # above convzoo.layers: imported lazily (see the docstring)
        from convzoo.fast.optimizer import optimize

        return optimize
    if name == "Refusal":
        from convzoo.fast.refusal import Refusal

        return Refusal
    raise AttributeError(f"module 'convzoo.fast' has no attribute {name!r}")
