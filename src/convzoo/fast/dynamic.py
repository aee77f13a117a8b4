"""The portable graph for ONNX Runtime, OpenVINO and ``Optimized.save``: any batch size.

The model (a private eval copy, already proven capturable by :mod:`convzoo.fast.capture`)
is exported once more with ``torch.export`` and *dynamic* sizes: the batch dimension
(``>= 1``) and, where the model allows, the spatial dimensions (``torch.export`` decides
which it can keep symbolic and the range each admits; a model whose computation depends on
the exact size, e.g. a ``Linear`` over flattened features, keeps that size fixed). Then the
rewrites each runtime gains from (:data:`RUNTIME_REWRITES`) run on that graph, and the
dynamo ONNX exporter writes it with the same dynamic dimensions.

Which rewrites a runtime gains from was read from the graphs the runtimes actually execute
(ONNX Runtime's optimized model, OpenVINO's runtime model; ``benchmarks/runtime_rewrites.py``,
``benchmarks/results/runtime_rewrites.json``): folding BatchNorm after a conv and constant
folding leave them identical (the ONNX exporter and the runtimes fold those themselves),
while a channel permutation folded into the next conv's weights removes a Transpose and
two Reshapes from ONNX Runtime's graph and a ShuffleChannels from OpenVINO's, and a
BatchNorm folded into the unpadded conv after it removes a node neither runtime folds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from convzoo.fast.fold import fold_batchnorms, fold_batchnorms_before, fold_constants
from convzoo.fast.shuffle_fold import fold_shuffles
from convzoo.functional.dispatch import native_only

__all__ = ["REWRITES", "RUNTIME_REWRITES", "Portable", "check_shape", "describe_shape",
           "export_portable", "other_shapes", "portable"]

#: The portable rewrites, in the order they run.
REWRITES = {
    "constants": fold_constants,
    "batchnorms": fold_batchnorms,
    "batchnorms_before": fold_batchnorms_before,
    "shuffles": fold_shuffles,
}

#: The rewrites that change the graph each runtime executes (see the module docstring).
RUNTIME_REWRITES: dict[str, tuple[str, ...]] = {
    "onnxruntime": ("batchnorms_before", "shuffles"),
    "openvino": ("batchnorms_before", "shuffles"),
}

_MAX = 2**31 - 1


@dataclass
class Portable:
    """A graph with dynamic sizes, after the portable rewrites.

    Attributes:
        source: the rewritten graph, or the exported program itself when no rewrite
            applied. trace: the input it was traced with (batch 2).
        sizes: per input dimension, an int (fixed) or ``(min, max)`` (dynamic; max None:
            unbounded).
        spec: the ``dynamic_shapes`` it was exported with (for the ONNX export).
        rewrites: how many times each rewrite applied.
        note: why sizes are fixed where a dynamic export failed (empty otherwise).
    """

    source: nn.Module | torch.export.ExportedProgram
    trace: torch.Tensor
    sizes: tuple[int | tuple[int, int | None], ...]
    spec: tuple[dict[int, object], ...] | None
    rewrites: dict[str, int] = field(default_factory=dict)
    note: str = ""


def _specs(example: torch.Tensor, spatial: bool) -> list[dict[int, object]]:
    """The dynamic dimensions to try, most general first: batch and spatial, batch only."""
    from torch.export import Dim

    batch: dict[int, object] = {0: Dim("batch", min=1, max=_MAX)}
    sizes = {d: Dim.AUTO for d in range(2, example.dim())} if spatial else {}
    return [{**batch, **sizes}, batch] if sizes else [batch]


def _finite(value: object) -> int | None:
    """A range end as an int, None for an infinite one (sympy's ``oo`` or torch's
    ``int_oo``)."""
    try:
        return int(value) if bool(getattr(value, "is_finite", True)) and \
            getattr(value, "is_number", True) else None
    except (TypeError, ValueError, AttributeError, OverflowError):
        return None


def _sizes(program: torch.export.ExportedProgram) -> tuple[int | tuple[int, int | None], ...]:
    """Each input dimension of an exported program: an int, or ``(min, max)``."""
    name = program.graph_signature.user_inputs[0]
    ph = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == name)
    ranges = program.range_constraints
    out: list[int | tuple[int, int | None]] = []
    for s in ph.meta["val"].shape:
        if isinstance(s, torch.SymInt):
            r = ranges.get(s.node.expr)
            lo = _finite(r.lower) if r is not None else None
            hi = _finite(r.upper) if r is not None else None
            out.append((1 if lo is None else max(1, lo), None if hi is None or hi >= _MAX
                        else hi))
        else:
            out.append(int(s))
    return tuple(out)


def portable(model: nn.Module, example: torch.Tensor,
             rewrites: tuple[str, ...] = tuple(REWRITES), rewrite: bool = True,
             spatial: bool = True) -> Portable:
    """``model`` exported with a dynamic batch (and spatial sizes where it allows, when
    ``spatial``), then the named rewrites (:data:`REWRITES`) applied (``rewrite=False``: the
    caller knows none applies, so the export is passed on as it is, saving a trace); sizes
    fixed at the example's where no dynamic export succeeds (``note`` says why).

    A dynamic size comes with the range ``torch.export`` proved the graph for (``sizes``);
    outside it the graph may compute something else (an intermediate size of 1 that the
    trace specialized, e.g.), which convzoo's sessions refuse (:func:`check_shape`) but a
    file cannot say: files are written with ``spatial=False``.

    Shape:
        ``example``: ``(N, C, *spatial)`` (any N; traced at N = 2).
    """
    from convzoo.fast.verify import first_line

    trace = torch.zeros((2, *example.shape[1:]), dtype=example.dtype, device=example.device)
    notes, found = [], None
    for spec in _specs(example, spatial) if example.dim() >= 1 else []:
        try:
            with native_only():
                found = (torch.export.export(model, (trace,), dynamic_shapes=(spec,),
                                             strict=False), spec)
            break
        except Exception as exc:  # noqa: BLE001 - a model that needs fixed sizes
            notes.append(f"{type(exc).__name__}: {first_line(exc, 160)}")
    if found is None:
        trace = example
        with native_only():
            found = (torch.export.export(model, (trace,), strict=False), None)
    program, spec = found
    sizes = _sizes(program)
    fixed = [d for d in range(len(sizes)) if d != 1 and isinstance(sizes[d], int)]
    if not spatial and fixed:
        notes.append("spatial sizes fixed on request")
    if fixed and not notes:
        notes.append("the model's computation depends on them (torch.export kept them fixed)")
    note = f"sizes of dims {fixed} fixed: {'; '.join(notes)}" if fixed else ""
    counts: dict[str, int] = {}
    source: nn.Module | torch.export.ExportedProgram = program
    if rewrite:
        gm = program.run_decompositions({}).module()
        counts = {name: REWRITES[name](gm) for name in REWRITES if name in rewrites}
        gm.recompile()
        if any(counts.values()):
            source = gm
    return Portable(source, trace, sizes, (spec,) if spec is not None else None, counts, note)


def export_portable(p: Portable) -> bytes:
    """The ONNX bytes of ``p`` with its dynamic dimensions (dynamo exporter)."""
    if isinstance(p.source, torch.export.ExportedProgram):
        program = torch.onnx.export(p.source, dynamo=True, verbose=False)
    else:
        with warnings.catch_warnings():  # an exported graph has no train/eval mode to set
            warnings.filterwarnings("ignore", message="Exporting a model while it is in "
                                    "training mode")
            program = torch.onnx.export(p.source, (p.trace,), dynamic_shapes=p.spec,
                                        dynamo=True, verbose=False)
    return program.model_proto.SerializeToString()


def describe_shape(sizes: tuple[int | tuple[int, int | None], ...]) -> str:
    """The accepted shapes in words.

    >>> describe_shape(((1, None), 3, (33, None), 224))
    '(N, 3, H, 224) with N >= 1, H >= 33'
    """
    letters = iter("NHWDTUV")
    names, rules = [], []
    for i, s in enumerate(sizes):
        if isinstance(s, int):
            names.append(str(s))
            continue
        name = "N" if i == 0 else next(n for n in letters if n != "N")
        names.append(name)
        lo, hi = s
        rules.append(f"{name} >= {lo}" if hi is None else f"{lo} <= {name} <= {hi}")
    text = f"({', '.join(names)})"
    return text + (f" with {', '.join(rules)}" if rules else "")


def check_shape(shape: tuple[int, ...], sizes: tuple[int | tuple[int, int | None], ...],
                what: str) -> None:
    """Raise a ValueError naming the accepted shapes when ``shape`` is not one of them.

    >>> check_shape((2, 3, 64, 224), ((1, None), 3, (33, None), 224), "the openvino backend")
    >>> check_shape((2, 3, 8, 224), ((1, None), 3, (33, None), 224), "the openvino backend")
    Traceback (most recent call last):
    ...
    ValueError: `input` shape (=(2, 3, 8, 224)) must be (N, 3, H, 224) with N >= 1, H >= 33 \
for the openvino backend (sizes the model was exported for)
    """
    ok = len(shape) == len(sizes) and all(
        s == want if isinstance(want, int) else
        s >= want[0] and (want[1] is None or s <= want[1]) for s, want in zip(shape, sizes))
    if not ok:
        raise ValueError(f"`input` shape (={tuple(shape)}) must be {describe_shape(sizes)} "
                         f"for {what} (sizes the model was exported for)")


def other_shapes(example: torch.Tensor,
                 sizes: tuple[int | tuple[int, int | None], ...]) -> list[tuple[int, ...]]:
    """Shapes to verify besides the example's: another batch size (1 after a batched
    example, else 2), and other spatial sizes (three quarters of the example's, within
    range) where they are dynamic.

    >>> other_shapes(torch.zeros(1, 3, 64, 48), ((1, None), 3, (33, None), 48))
    [(2, 3, 64, 48), (2, 3, 48, 48)]
    """
    shape = tuple(example.shape)
    batch = 2 if shape[0] <= 1 else 1
    out = [(batch, *shape[1:])] if not isinstance(sizes[0], int) else []
    spatial = list(shape)
    spatial[0] = batch
    moved = False
    for d in range(2, len(shape)):
        s = sizes[d]
        if not isinstance(s, int):
            new = max(s[0], (shape[d] * 3) // 4)
            if s[1] is not None:
                new = min(new, s[1])
            moved = moved or new != shape[d]
            spatial[d] = new
    if moved:
        out.append(tuple(spatial))
    return out
