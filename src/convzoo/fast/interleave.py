"""ShuffleNet v2 units: concatenation and 2-group channel shuffle as one interleaving copy.

A :class:`~convzoo.models.shufflenet.ShuffleV2Unit` concatenates its two halves ``a`` and
``b`` (``C/2`` channels each) and shuffles the result with 2 groups: output channel
``2j`` is ``a[j]``, ``2j + 1`` is ``b[j]``. On channels_last tensors that is
``stack((a, b), dim=-1)`` of the ``(N, H, W, C/2)`` views: one copy instead of two (cat,
then shuffle), the same values (pure data movement, exact).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from convzoo.fast.fold import replace_module

__all__ = ["InterleavedUnit", "interleave", "interleave_units"]


def interleave(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``channel_shuffle(cat((a, b), 1), 2)`` in one copy, channels_last out.

    Shape:
        ``a, b: (N, C, H, W)`` -> ``(N, 2C, H, W)``; channel ``2j`` is ``a[:, j]``, ``2j + 1``
        is ``b[:, j]``.

    >>> a, b = torch.zeros(1, 2, 1, 1), torch.ones(1, 2, 1, 1)
    >>> interleave(a, b)[0, :, 0, 0].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    n, c, h, w = a.shape
    y = torch.stack((a.permute(0, 2, 3, 1), b.permute(0, 2, 3, 1)), dim=-1)  # (N, H, W, C, 2)
    return y.view(n, h, w, 2 * c).permute(0, 3, 1, 2)  # (N, 2C, H, W), channels_last


class InterleavedUnit(nn.Module):
    """A ShuffleNet v2 unit whose concat + shuffle is :func:`interleave` (same branches).

    Args:
        branch1: the stride-2 branch, or None (stride 1: the first half of the channels).
        branch2: the other branch.

    Shape:
        as the unit.

    >>> from convzoo.models.shufflenet import ShuffleV2Unit
    >>> unit, x = ShuffleV2Unit(8, 8, 1).eval(), torch.randn(1, 8, 4, 4)
    >>> torch.allclose(InterleavedUnit(None, unit.branch2)(x), unit(x))
    True
    """

    def __init__(self, branch1: nn.Module | None, branch2: nn.Module) -> None:
        super().__init__()
        self.branch1, self.branch2 = branch1, branch2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.branch1 is None:
            x1, x2 = x.chunk(2, dim=1)  # 2 x (N, C/2, H, W)
            return interleave(x1, self.branch2(x2))  # (N, C, H, W)
        return interleave(self.branch1(x), self.branch2(x))  # (N, C_out, H/2, W/2)


def interleave_units(model: nn.Module) -> int:
    """Replace every ShuffleNet v2 unit of ``model`` whose 2-group shuffle is still in place
    by an :class:`InterleavedUnit`; returns how many. In place.

    Shape:
        unchanged.
    """
    from convzoo.fast.plan import ChannelsLastShuffle
    from convzoo.layers.shuffle import ChannelShuffle
    from convzoo.models.shufflenet import ShuffleV2Unit

    count = 0
    for unit in list(model.modules()):
        if type(unit) is not ShuffleV2Unit or unit is model:
            continue
        shuffle = unit.shuffle
        if type(shuffle) not in (ChannelShuffle, ChannelsLastShuffle) or shuffle.groups != 2:
            continue
        count += replace_module(model, unit, InterleavedUnit(unit.branch1, unit.branch2)) > 0
    return count
