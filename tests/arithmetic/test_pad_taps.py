"""``pad_taps`` against ``F.pad`` on every small case: it refuses exactly the paddings torch
refuses, and elsewhere its taps are the input index torch copies to each output index."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from convzoo.arithmetic import PAD_MODES, pad_taps

MARK = 1000.0  # inputs are index + MARK, so a constant fill (-1) or garbage stands out


def _torch_taps(n: int, lo: int, hi: int, mode: str, shift: float = MARK):
    """torch's taps, "refused", or "garbage" (values that are not input indices, or that
    change with the input: uninitialized memory)."""
    x = torch.arange(n, dtype=torch.float64).view(1, 1, n) + shift
    try:
        y = F.pad(x, (lo, hi), mode=mode, **({"value": -1.0} if mode == "constant" else {}))
    except (RuntimeError, ValueError, IndexError):
        return "refused"
    taps = []
    for v in (y.flatten() - shift).tolist():
        if mode == "constant" and v == -1.0 - shift:
            taps.append(())
        elif v == int(v) and 0 <= v < n:
            taps.append((int(v),))
        else:
            return "garbage"
    return tuple(taps)


@pytest.mark.parametrize("mode", PAD_MODES)
def test_pad_taps_refuse_and_read_exactly_what_torch_does(mode):
    agree = 0
    for n, lo, hi in itertools.product(range(1, 7), range(-8, 9), range(-8, 9)):
        expected = _torch_taps(n, lo, hi, mode)
        if expected != "refused" and expected != _torch_taps(n, lo, hi, mode, 2 * MARK):
            expected = "garbage"  # uninitialized memory: differs between two runs
        try:
            ours = pad_taps(n, lo, hi, mode)
        except ValueError:
            assert expected in ("refused", "garbage"), (n, lo, hi, expected)
        else:
            assert ours == expected, (n, lo, hi)
        agree += 1
    assert agree == 6 * 17 * 17


@pytest.mark.parametrize("call, message", [
    ((4, 10, 0, "reflect"), "`before` (=10) must be smaller than `in_size` (=4) for "
                            "mode='reflect' (torch refuses a reflection as long as the axis)"),
    ((4, 0, 4, "reflect"), "`after` (=4) must be smaller than `in_size` (=4) for "
                           "mode='reflect'"),
    ((4, -3, -1, "reflect"), "the padded size in_size + before + after (=4 + -3 + -1 = 0) "
                             "must be positive for mode='reflect'"),
    ((4, -5, 0, "replicate"), "the padded size in_size + before + after (=4 + -5 + 0 = -1) "
                              "must be positive for mode='replicate'"),
    ((3, 4, 0, "circular"), "`before` (=4) must not exceed `in_size` (=3) for "
                            "mode='circular' (it would wrap around more than once)"),
    ((3, -4, 5, "constant"), "`before` (=-4) must be >= -`in_size` (=-3): it cannot crop "
                             "more than the axis holds"),
    ((3, -2, -2, "constant"), "the padded size in_size + before + after (=3 + -2 + -2 = -1) "
                              "must be non-negative for mode='constant'"),
    ((2, 2, -2, "circular"), "torch's circular padding leaves some outputs unwritten"),
    ((3, 1.5, 0, "constant"), "`before` (=1.5) must be an int (negative amounts crop)"),
])
def test_pad_taps_messages(call, message):
    with pytest.raises(ValueError) as info:
        pad_taps(*call)
    assert message in str(info.value)
