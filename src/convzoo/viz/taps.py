"""Which input cells feed each output cell, found by running the reference engine on probes.

Nothing here re-derives the indexing of a convolution: every map is read off
``convzoo.reference`` itself. A batch of one-hot inputs (one per grid cell) goes through the
engine with a kernel whose taps hold the values ``1, 2, ..., K``; output element ``o`` of
probe ``q`` is then ``0`` when cell ``q`` does not feed ``o`` and ``1 + t`` when it feeds
``o`` through kernel tap ``t``. Channel connectivity (groups) is probed the same way with
one-hot channels. What an animation highlights is therefore what the engine computes.

* :func:`conv_taps`: a convolution; cells of the padded input, padding cells apart.
* :func:`zero_insertion_taps`: a transposed conv seen as zero insertion + padding + a stride-1
  conv with the flipped kernel; cells are real inputs, inserted zeros, padding or the
  ``output_padding`` extra.
* :func:`scatter_taps`: a transposed conv seen as each input scattering ``value * kernel``
  into the (uncropped) output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from convzoo.arithmetic import zero_insertion_padding
from convzoo.reference.conv import conv, resolve
from convzoo.reference.transpose import conv_transpose, conv_transpose_scatter, transposed_args
from convzoo.spec import ConvSpec

__all__ = [
    "MAX_GRID_CELLS",
    "TooLargeToDraw",
    "GridTaps",
    "ConvTaps",
    "ZeroInsertionTaps",
    "ScatterTaps",
    "probe_taps",
    "channel_links",
    "conv_taps",
    "zero_insertion_taps",
    "scatter_taps",
]

#: Largest grid (padded input, zero-inserted grid) an animation probes and draws.
MAX_GRID_CELLS = 2048


class TooLargeToDraw(ValueError):
    """A grid with more cells than an animation draws (:data:`MAX_GRID_CELLS`). Its numbers
    can still be worked out without frames (:func:`convzoo.viz.animate.sketch`)."""

_CHUNK = 256  # one-hot probes per engine call

Index = tuple[int, ...]


@dataclass(frozen=True)
class GridTaps:
    """Links ``grid cell -> output element`` through kernel taps, as three flat index arrays.

    Attributes:
        grid_shape, output_shape, kernel_size: spatial shapes.
        cell, out, tap: flat indices of every link (grid cell, output element, kernel tap).
    """

    grid_shape: Index
    output_shape: Index
    kernel_size: Index
    cell: np.ndarray
    out: np.ndarray
    tap: np.ndarray

    def cells(self, index: Sequence[int]) -> list[tuple[Index, Index]]:
        """``(grid position, kernel tap)`` pairs feeding output element ``index``, tap order."""
        flat = np.ravel_multi_index(tuple(index), self.output_shape)
        keep = np.flatnonzero(self.out == flat)
        keep = keep[np.argsort(self.tap[keep], kind="stable")]
        return [self._pair(self.cell[i], self.grid_shape, self.tap[i]) for i in keep]

    def outputs(self, position: Sequence[int]) -> list[tuple[Index, Index]]:
        """``(output index, kernel tap)`` pairs that grid cell ``position`` feeds, tap order."""
        flat = np.ravel_multi_index(tuple(position), self.grid_shape)
        keep = np.flatnonzero(self.cell == flat)
        keep = keep[np.argsort(self.tap[keep], kind="stable")]
        return [self._pair(self.out[i], self.output_shape, self.tap[i]) for i in keep]

    def _pair(self, flat: int, shape: Index, tap: int) -> tuple[Index, Index]:
        where = tuple(int(v) for v in np.unravel_index(int(flat), shape))
        return where, tuple(int(v) for v in np.unravel_index(int(tap), self.kernel_size))


def probe_taps(
    grid_shape: Sequence[int],
    kernel_size: Sequence[int],
    run: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> GridTaps:
    """Run ``run(x, weight)`` (an engine call) on one-hot probes of every grid cell.

    ``x`` is ``(B, 1, *grid_shape)``, ``weight`` is ``(1, 1, *kernel_size)`` holding
    ``1..K`` in row-major tap order; ``run`` returns ``(B, 1, *output)``.

    >>> from convzoo.reference import conv
    >>> t = probe_taps((5,), (3,), lambda x, w: conv(x, w, stride=2))
    >>> t.output_shape, t.cells((1,))
    ((2,), [((2,), (0,)), ((3,), (1,)), ((4,), (2,))])
    """
    grid_shape, kernel_size = tuple(grid_shape), tuple(kernel_size)
    cells = math.prod(grid_shape)
    if cells > MAX_GRID_CELLS:
        raise TooLargeToDraw(
            f"the grid to animate (shape {grid_shape}) has {cells} cells, more than the limit "
            f"of {MAX_GRID_CELLS}; use a smaller input"
        )
    taps = math.prod(kernel_size)
    weight = np.arange(1, taps + 1, dtype=np.float64).reshape(1, 1, *kernel_size)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    out_shape: Index = ()
    for start in range(0, cells, _CHUNK):
        n = min(_CHUNK, cells - start)
        x = np.zeros((n, cells))
        x[np.arange(n), start + np.arange(n)] = 1.0
        y = np.asarray(run(x.reshape(n, 1, *grid_shape), weight))
        out_shape = tuple(int(v) for v in y.shape[2:])
        q, o = np.nonzero(y.reshape(n, -1))
        tap = np.rint(y.reshape(n, -1)[q, o]).astype(np.int64) - 1
        found.append((q + start, o, tap))
    cell, out, tap = (np.concatenate(parts) for parts in zip(*found))
    return GridTaps(grid_shape, out_shape, kernel_size, cell, out, tap)


def channel_links(spec: ConvSpec) -> np.ndarray:
    """``links[o, c]``: whether input channel ``c`` feeds output channel ``o`` (engine probe).

    >>> channel_links(ConvSpec(4, 2, 3, groups=2)).astype(int).tolist()
    [[1, 1, 0, 0], [0, 0, 1, 1]]
    """
    c_in, n = spec.in_channels, spec.ndim
    x = np.eye(c_in).reshape(c_in, c_in, *(1,) * n)
    ones = np.ones((*spec.weight_shape[:2], *(1,) * n))
    if spec.transposed:
        y = conv_transpose(x, ones, groups=spec.groups)
    else:
        y = conv(x, ones, groups=spec.groups)
    return (y.reshape(c_in, spec.out_channels) != 0).T


def _check_input(spec: ConvSpec, input_size: Sequence[int]) -> Index:
    input_size = tuple(int(v) for v in input_size)
    spec.output_shape((spec.in_channels, *input_size))  # validates sizes with its messages
    return input_size


@dataclass(frozen=True)
class ConvTaps:
    """Taps of a convolution over its padded input.

    Attributes:
        spec, input_size: the convolution and its input's spatial size.
        padding: resolved ``(lo, hi)`` per axis (the engine's own resolution).
        grid: links of the padded input grid to the output.
        channels: ``channels[o, c]`` whether input channel ``c`` feeds output channel ``o``.
    """

    spec: ConvSpec
    input_size: Index
    padding: tuple[tuple[int, int], ...]
    grid: GridTaps
    channels: np.ndarray

    @property
    def output_size(self) -> Index:
        return self.grid.output_shape

    def source(self, position: Sequence[int]) -> Index | None:
        """Input position of padded grid cell ``position``; ``None`` for a padding cell."""
        j = tuple(p - lo for p, (lo, _) in zip(position, self.padding))
        return j if all(0 <= v < i for v, i in zip(j, self.input_size)) else None

    def cells(self, index: Sequence[int]) -> set[Index]:
        """Input cells ``(c, *position)`` feeding output ``(o, *position)``."""
        o, *where = index
        chans = np.flatnonzero(self.channels[o])
        found = {self.source(g) for g, _ in self.grid.cells(where)}
        return {(int(c), *j) for c in chans for j in found if j is not None}

    def padding_cells(self, index: Sequence[int]) -> set[Index]:
        """Padding cells ``(c, *grid position)`` in the window of output ``index``."""
        o, *where = index
        chans = np.flatnonzero(self.channels[o])
        pads = [g for g, _ in self.grid.cells(where) if self.source(g) is None]
        return {(int(c), *g) for c in chans for g in pads}


def conv_taps(spec: ConvSpec, input_size: Sequence[int]) -> ConvTaps:
    """The taps of forward convolution ``spec`` on an input of spatial size ``input_size``.

    >>> t = conv_taps(ConvSpec(1, 1, 3, stride=2, padding=1, ndim=1), (4,))
    >>> t.padding, t.output_size, sorted(t.cells((0, 0))), sorted(t.padding_cells((0, 0)))
    (((1, 1),), (2,), [(0, 0), (0, 1)], [(0, 0)])
    """
    if spec.transposed:
        raise ValueError("`spec` (transposed=True) must be a forward convolution; use "
                         "zero_insertion_taps or scatter_taps")
    input_size = _check_input(spec, input_size)
    x = np.zeros((1, spec.in_channels, *input_size))
    stride, dilation, pads = resolve(
        x, np.zeros(spec.weight_shape), spec.stride, spec.padding, spec.dilation, spec.groups
    )
    grid_shape = tuple(i + lo + hi for i, (lo, hi) in zip(input_size, pads))
    grid = probe_taps(
        grid_shape, spec.kernel_size, lambda p, w: conv(p, w, None, stride, 0, dilation)
    )
    return ConvTaps(spec, input_size, tuple(pads), grid, channel_links(spec))


#: Kinds of cell of a zero-inserted grid, in drawing priority.
ZERO_INSERTION_KINDS = ("input", "zero", "padding", "extra")


@dataclass(frozen=True)
class ZeroInsertionTaps:
    """A transposed conv as a stride-1 conv of the flipped kernel over the zero-inserted grid.

    Per axis the grid is ``d*(k-1) - lo`` cells of padding (negative: cropped), the input with
    ``s-1`` zeros between elements, then ``d*(k-1) - hi`` padding and ``output_padding``
    extra cells on the right.

    Attributes:
        spec, input_size, padding (crop pairs), output_padding.
        offset: per axis, the grid position of input element 0 (``d*(k-1) - lo``).
        grid: links of the grid to the output; taps index the *flipped* kernel.
        channels: ``channels[o, c]``.
    """

    spec: ConvSpec
    input_size: Index
    padding: tuple[tuple[int, int], ...]
    output_padding: Index
    offset: Index
    grid: GridTaps
    channels: np.ndarray

    @property
    def output_size(self) -> Index:
        return self.grid.output_shape

    def kind(self, position: Sequence[int]) -> str:
        """``'input'``, ``'zero'`` (inserted), ``'padding'`` or ``'extra'`` (output_padding)."""
        kinds = set()
        for g, a, i, s, k, d, (_, hi) in zip(
            position, self.offset, self.input_size, self.spec.stride, self.spec.kernel_size,
            self.spec.dilation, self.padding,
        ):
            u, span = g - a, (i - 1) * s + 1
            if 0 <= u < span:
                kinds.add("input" if u % s == 0 else "zero")
            else:
                kinds.add("extra" if u >= span + max(d * (k - 1) - hi, 0) else "padding")
        return max(kinds, key=ZERO_INSERTION_KINDS.index)

    def source(self, position: Sequence[int]) -> Index | None:
        """Input position of grid cell ``position``; ``None`` unless it is a real input."""
        if self.kind(position) != "input":
            return None
        return tuple((g - a) // s for g, a, s in zip(position, self.offset, self.spec.stride))

    def cells(self, index: Sequence[int]) -> set[Index]:
        """Real input cells ``(c, *position)`` under the window of output ``index``."""
        o, *where = index
        chans = np.flatnonzero(self.channels[o])
        found = {self.source(g) for g, _ in self.grid.cells(where)}
        return {(int(c), *j) for c in chans for j in found if j is not None}


def zero_insertion_taps(spec: ConvSpec, input_size: Sequence[int]) -> ZeroInsertionTaps:
    """Taps of transposed conv ``spec`` drawn as zero insertion + flipped-kernel convolution.

    >>> t = zero_insertion_taps(ConvSpec(1, 1, 3, stride=2, transposed=True, ndim=1), (2,))
    >>> t.grid.grid_shape, [t.kind((g,)) for g in range(7)], t.output_size
    ((7,), ['padding', 'padding', 'input', 'zero', 'input', 'padding', 'padding'], (5,))
    """
    if not spec.transposed:
        raise ValueError("`spec` (transposed=False) must be a transposed convolution")
    input_size = _check_input(spec, input_size)
    x = np.zeros((1, spec.in_channels, *input_size))
    stride, dilation, pads, op = transposed_args(
        x, np.zeros(spec.weight_shape), spec.stride, spec.padding, spec.output_padding,
        spec.groups, spec.dilation,
    )
    amounts = [zero_insertion_padding(k, p, o, d)
               for k, p, o, d in zip(spec.kernel_size, pads, op, dilation)]
    offset = tuple(lo for lo, _ in amounts)
    grid_shape = tuple(lo + (i - 1) * s + 1 + hi
                       for (lo, hi), i, s in zip(amounts, input_size, stride))
    grid = probe_taps(grid_shape, spec.kernel_size, lambda p, w: conv(p, w, None, 1, 0, dilation))
    return ZeroInsertionTaps(spec, input_size, tuple(pads), tuple(op), offset, grid,
                             channel_links(spec))


@dataclass(frozen=True)
class ScatterTaps:
    """A transposed conv as a scatter into the uncropped output ``(in-1)*s + d*(k-1) + 1 + op``.

    Attributes:
        spec, input_size, padding (crop pairs), output_padding.
        links: input grid -> uncropped output, through kernel taps (engine probe).
        channels: ``channels[o, c]``.
    """

    spec: ConvSpec
    input_size: Index
    padding: tuple[tuple[int, int], ...]
    output_padding: Index
    links: GridTaps
    channels: np.ndarray

    @property
    def full_size(self) -> Index:
        return self.links.output_shape

    @property
    def output_size(self) -> Index:
        return tuple(f - lo - hi for f, (lo, hi) in zip(self.full_size, self.padding))

    def kept(self, position: Sequence[int]) -> Index | None:
        """Output index of uncropped position ``position``; ``None`` when it is cropped."""
        o = tuple(f - lo for f, (lo, _) in zip(position, self.padding))
        return o if all(0 <= v < n for v, n in zip(o, self.output_size)) else None

    def extra(self, position: Sequence[int]) -> bool:
        """Whether uncropped position ``position`` lies in the ``output_padding`` strip."""
        return any(
            f >= n - o for f, n, o in zip(position, self.full_size, self.output_padding)
        )

    def targets(self, index: Sequence[int]) -> set[Index]:
        """Output cells ``(o, *position)`` that input ``(c, *position)`` scatters into."""
        c, *where = index
        chans = np.flatnonzero(self.channels[:, c])
        found = {self.kept(f) for f, _ in self.links.outputs(where)}
        return {(int(o), *f) for o in chans for f in found if f is not None}

    def cropped(self, index: Sequence[int]) -> set[Index]:
        """Cropped uncropped-output cells ``(o, *position)`` that input ``index`` writes to."""
        c, *where = index
        chans = np.flatnonzero(self.channels[:, c])
        found = [f for f, _ in self.links.outputs(where) if self.kept(f) is None]
        return {(int(o), *f) for o in chans for f in found}

    def cells(self, index: Sequence[int]) -> set[Index]:
        """Input cells ``(c, *position)`` scattering into output ``(o, *position)``."""
        o, *where = index
        full = tuple(v + lo for v, (lo, _) in zip(where, self.padding))
        chans = np.flatnonzero(self.channels[o])
        found = [j for j, _ in self.links.cells(full)]
        return {(int(c), *j) for c in chans for j in found}


def scatter_taps(spec: ConvSpec, input_size: Sequence[int]) -> ScatterTaps:
    """Taps of transposed conv ``spec`` drawn as a scatter of each input element.

    >>> t = scatter_taps(ConvSpec(1, 1, 3, stride=2, padding=1, transposed=True, ndim=1), (2,))
    >>> t.full_size, t.output_size, sorted(t.targets((0, 1))), sorted(t.cropped((0, 1)))
    ((5,), (3,), [(0, 1), (0, 2)], [(0, 4)])
    """
    if not spec.transposed:
        raise ValueError("`spec` (transposed=False) must be a transposed convolution")
    input_size = _check_input(spec, input_size)
    x = np.zeros((1, spec.in_channels, *input_size))
    stride, dilation, pads, op = transposed_args(
        x, np.zeros(spec.weight_shape), spec.stride, spec.padding, spec.output_padding,
        spec.groups, spec.dilation,
    )
    links = probe_taps(
        input_size, spec.kernel_size,
        lambda p, w: conv_transpose_scatter(p, w, None, stride, 0, op, 1, dilation),
    )
    return ScatterTaps(spec, input_size, tuple(pads), tuple(op), links, channel_links(spec))
