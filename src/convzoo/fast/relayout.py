"""A fixed-shape session (ONNX Runtime, OpenVINO) called with an input of its shape in
another layout, or differing in ``requires_grad``: verified there before it is reused.

The session was traced on the example; a forward that branches on the input's layout
(``x.is_contiguous(memory_format=torch.channels_last)``) or on ``x.requires_grad`` takes
the other branch for such an input, which the session cannot follow. :func:`reverify`
runs the regimes in the new input's layout (and ``requires_grad``) through the session and
the original, and raises :class:`~convzoo.fast.refusal.Refusal` where they differ (the
caller then runs the original for that input key).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
import torch.nn as nn

from convzoo.fast.verify import checks, inputs_per_regime, verify, with_scales
from convzoo.functional.dispatch import native_only

__all__ = ["reverify"]


def reverify(original: nn.Module, session: Callable[[torch.Tensor], object],
             x: torch.Tensor, head: str, precision: str = "fp32",
             scales: dict[str, dict[str, float]] | None = None) -> None:
    """Verify ``session`` against ``original`` on ``x`` and on the regimes laid out as ``x``
    (for ``'bf16'``: three inputs per regime, bounded relative to ``scales``, the optimize
    call's regime output scales, :func:`convzoo.fast.verify.regime_scale`).

    Raises:
        Refusal: ``{head} differs from the original on {input}: ...``, one line.

    >>> net = nn.Conv2d(1, 1, 1).eval()
    >>> reverify(net, net, torch.randn(1, 1, 2, 2).requires_grad_(), "net")
    """
    exact = functools.cache(lambda: copy.deepcopy(original).double())
    with native_only():
        with torch.no_grad():
            reference = original(x)
        found = checks(original, x, reference, seed=20261207 + x.numel(), exact=exact,
                       count=inputs_per_regime(precision))
    if precision == "bf16" and scales:
        with_scales(found, scales)
    verify(session, found, precision, head,
           " (the forward branches on the input's layout or requires_grad, which a session "
           "traced on the example cannot follow)")
