"""convzoo.fast: ``optimize()`` for inference, and the benchmarks behind ``convzoo bench``.

The per-call fast paths (channels_last, FFT) and their dispatch live below the layers, in
:mod:`convzoo.functional` (``run_fast``, ``choose_path``); ``convzoo.layers`` calls them from
its forward passes. This package holds ``optimize``: graph capture (``capture``), exact
rewrites on the graph (``fold``, ``shuffle_fold``, ``interleave``, ``plan``, ``fuse``,
``precision``), verification (``verify``) and backends (``backends``); loaded on first use
of ``convzoo.fast.optimize`` or ``convzoo.optimize`` (``import convzoo`` and
``import convzoo.fast`` import neither torch nor the layers).
"""

from __future__ import annotations

from typing import Any

__all__ = ["optimize"]


def __getattr__(name: str) -> Any:
    if name == "optimize":  # above convzoo.layers: imported lazily (see the docstring)
        from convzoo.fast.optimizer import optimize

        return optimize
    raise AttributeError(f"module 'convzoo.fast' has no attribute {name!r}")
