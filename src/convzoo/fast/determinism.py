"""A forward that does not repeat itself on the same input cannot be optimized soundly.

A graph replays one call: a forward drawing Python's ``random`` numbers, or keeping state
the snapshot of :mod:`convzoo.fast.state` does not see, gives another output on the next
call, which the graph would not follow (and the float64 allowance of verification, which
re-runs the model, could hide it). :func:`check_repeatable` calls the original again on
the example and refuses, naming that cause, where the output differs from the first
call's beyond float32 rounding (NaN equal to NaN).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from convzoo.fast.refusal import refuse
from convzoo.fast.verify import compare

__all__ = ["check_repeatable"]

NOT_REPEATABLE = ("forward is not deterministic or keeps state across calls: called again on "
                  "the example it gives another output ({why}{when}), which one graph cannot "
                  "follow (random numbers, e.g. Python's random module, or state in objects "
                  "the model reaches)")


def check_repeatable(model: nn.Module, again: Callable[[], object], reference: object,
                     backend: str | None = None, when: str = "") -> None:
    """Refuse when ``again()`` (the original on the example once more) differs from
    ``reference`` (its output there before); ``when`` says what happened in between.

    Raises:
        Refusal: ``... forward is not deterministic or keeps state across calls: ...``.

    >>> import torch
    >>> net = nn.Linear(2, 2)
    >>> x = torch.randn(1, 2)
    >>> check_repeatable(net, lambda: net(x), net(x))
    """
    got = again()
    why = compare(got, reference)[2]
    if why is not None:
        raise refuse(model, NOT_REPEATABLE.format(why=why, when=when), None, backend)
