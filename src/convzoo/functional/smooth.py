"""5-smooth sizes: the FFT lengths pocketfft (torch.fft on CPU) handles fastest."""

from __future__ import annotations

from convzoo.arithmetic import check_int

__all__ = ["is_smooth", "next_fast_len", "next_smooth"]


def is_smooth(n: int) -> bool:
    """Whether ``n`` has no prime factor above 5.

    >>> [m for m in range(1, 17) if is_smooth(m)]
    [1, 2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16]
    """
    for p in (2, 3, 5):
        while n % p == 0 and n > 1:
            n //= p
    return n == 1


def next_smooth(n: int) -> int:
    """The smallest 5-smooth integer ``>= n``.

    Args:
        n: a positive int.

    Shape:
        ``next_smooth(n) = min{m >= n : m = 2^a 3^b 5^c}``.

    >>> next_smooth(97), next_smooth(128), next_smooth(1)
    (100, 128, 1)
    """
    check_int("n", n)
    m = int(n)
    while not is_smooth(m):
        m += 1
    return m


def next_fast_len(n: int) -> int:
    """The smallest 5-smooth multiple of 4 ``>= n`` (``next_smooth(n)`` for ``n <= 4``).

    Odd factors cost pocketfft most: on this project's machine (1 thread, 8x3 planes) a
    75x75 or 81x81 real transform pair took 2.1-2.4x the time per element of 80x80 or
    96x96, and 90x90 (one factor 2) 1.3-1.7x, so the larger 80 and 96 are faster than 75
    and 90.

    Args:
        n: a positive int.

    >>> next_fast_len(73), next_fast_len(82), next_fast_len(97), next_fast_len(3)
    (80, 96, 100, 3)
    """
    m = next_smooth(n)
    if m <= 4:
        return m
    while m % 4 or not is_smooth(m):
        m += 1
    return m
