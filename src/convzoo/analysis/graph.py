"""The traced graph: one :class:`Node` per recorded aten op, edges by data flow (a DAG).

A node knows the nodes producing its inputs, the module calls it ran inside (outermost
first, the :class:`Frame` stack), its output shape and, for convolutions, its
:class:`~convzoo.spec.ConvSpec` and MAC count (from ``convzoo.arithmetic``). Residual adds
and concatenations are nodes with several inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convzoo.spec import ConvSpec

__all__ = ["Frame", "Node", "Graph", "CATEGORIES"]

#: Every node category the tracer assigns.
CATEGORIES = (
    "input", "conv", "linear", "pool", "adaptive_pool", "norm", "activation", "merge",
    "elementwise", "upsample", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "pad",
    "crop", "reduce", "view", "reindex", "attention", "other",
)


@dataclass(frozen=True)
class Frame:
    """One module call on the stack: qualified name, class name, call number, leaf or not."""

    name: str
    type: str
    call: int
    leaf: bool


@dataclass
class Node:
    """One recorded op.

    Attributes:
        index: position in :attr:`Graph.nodes` (0 is the model input).
        op: aten op name (``'convolution'``, ``'relu_'``, ``'add'``...), or ``'write'``
            for a tensor read after a write through an alias (``convzoo.analysis.writes``).
        category: one of :data:`CATEGORIES`.
        inputs: indices of the nodes producing this op's activation inputs.
        shape: shape of the (first) output.
        frames: the module calls this op ran inside, outermost first (root excluded).
        spec: the ConvSpec of a convolution, else None.
        input_shape: shape of the first activation input (``()`` for the input node).
        macs, bias_adds: DESIGN.md convention, from ``convzoo.arithmetic``.
        params: names of the model parameters this op consumed (directly or derived).
        allocates: whether the output is a new tensor (False for views and in-place ops).
        attrs: op arguments the receptive-field algebra needs (kernel, stride, dims...).
    """

    index: int
    op: str
    category: str
    inputs: tuple[int, ...]
    shape: tuple[int, ...]
    frames: tuple[Frame, ...] = ()
    spec: ConvSpec | None = None
    input_shape: tuple[int, ...] = ()
    macs: int = 0
    bias_adds: int = 0
    params: tuple[str, ...] = ()
    allocates: bool = True
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def module(self) -> str:
        """Qualified name of the innermost module call ('' for the model's own forward)."""
        return self.frames[-1].name if self.frames else ""


@dataclass
class Graph:
    """A traced model.

    Attributes:
        nodes: every recorded op in execution order; ``nodes[0]`` is the input.
        outputs: indices of the nodes producing the model's outputs.
        input_shape, dtype, element_bytes: what was traced.
        params: ``name -> (numel, trainable, bytes)`` for every model parameter.
        module_outputs: ``(module name, call) -> node index`` of each module call's output.
        modules: every submodule's qualified name -> class name (execution order unknown).
        partial: True when the meta run failed part-way; :attr:`reason` says why and
            numbers derived from the nodes cover only the traced part.
        reason: why the trace is partial ('' otherwise).

    >>> g = Graph(nodes=[Node(0, "input", "input", (), (1, 3, 8, 8))], outputs=(0,),
    ...           input_shape=(1, 3, 8, 8), dtype="float32", element_bytes=4)
    >>> g.nodes[0].shape, g.partial
    ((1, 3, 8, 8), False)
    """

    nodes: list[Node]
    outputs: tuple[int, ...]
    input_shape: tuple[int, ...]
    dtype: str
    element_bytes: int
    params: dict[str, tuple[int, bool, int]] = field(default_factory=dict)
    module_outputs: dict[tuple[str, int], int] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    partial: bool = False
    reason: str = ""

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def convs(self) -> list[Node]:
        """The convolution nodes, in execution order."""
        return [n for n in self.nodes if n.category == "conv"]

    @property
    def macs(self) -> int:
        """Total MACs of the traced nodes."""
        return sum(n.macs for n in self.nodes)

    def successors(self) -> dict[int, list[int]]:
        """``node index -> indices of the nodes consuming its output``."""
        out: dict[int, list[int]] = {n.index: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                out[i].append(n.index)
        return out

    def output_of(self, module: str) -> int:
        """Index of the node producing the output of ``module``'s first call.

        Raises ValueError naming the known modules when ``module`` never ran.
        """
        for (name, _), index in self.module_outputs.items():
            if name == module:
                return index
        known = ", ".join(list(dict.fromkeys(n for n, _ in self.module_outputs))[:12])
        raise ValueError(
            f"`layer` (={module!r}) must name a module called during the forward pass, "
            f"e.g. {known}"
        )
