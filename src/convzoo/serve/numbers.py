"""The playground's numbers for an animation: per stage, the output-size formula with its
numbers, params, MACs, bytes and receptive field, all from :mod:`convzoo.arithmetic` through
the stage's :class:`~convzoo.spec.ConvSpec` (recorded in the frames' ``meta``).

>>> from convzoo.viz.animate import animate
>>> n = animation_numbers(animate("conv", input_size=(5, 5), stride=2, padding=1))
>>> n["stages"][0]["formulas"][0], n["totals"]["rf"]
('H: out = floor((5 + 1 + 1 - 1*(3-1) - 1) / 2) + 1 = 3', ['3 (S=2, P=1)', '3 (S=2, P=1)'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from convzoo import arithmetic as ar
from convzoo.spec import ConvSpec
from convzoo.viz.animate.text import axis_names
from convzoo.viz.draw import Scene

__all__ = ["animation_numbers"]


def _num(v: Any) -> str:
    v = Fraction(v)
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def _rf_text(rf: ar.ReceptiveField) -> str:
    return f"{_num(rf.size)} (S={_num(rf.stride)}, P={_num(rf.padding)})"


def _conv_row(label: str, spec: ConvSpec, shape: tuple[int, ...]) -> tuple[dict, list]:
    out = spec.output_shape(shape)
    cost = spec.cost(shape)
    names = axis_names(spec.ndim)
    fields = spec.receptive_field(shape)
    row = {
        "stage": label, "input": list(shape), "output": list(out),
        "formulas": [f"{n}: out = {f}" for n, f in zip(names, spec.output_formulas(shape))],
        "params": spec.params, "params_formula": spec.params_formula(),
        "macs": cost.macs, "macs_formula": spec.macs_formula(shape), "bytes": cost.bytes,
        "rf": [_rf_text(f) for f in fields],
    }
    return row, [ar.RFLayer(f.size, f.stride, f.padding) for f in fields]


def _copy_row(label: str, scene: Scene) -> tuple[dict, list]:
    op, factor = scene.meta["copy"]
    shape = scene.meta.get("input_shape")
    out = scene.meta.get("output_shape", shape)
    n = len(shape) - 2 if shape else 0
    if op == "pixel_unshuffle":
        layer = ar.pixel_unshuffle_rf_layer(factor)
    elif op in ("pixel_shuffle", "nearest"):  # each output reads one input, stride 1/r
        layer = ar.pixel_shuffle_rf_layer(factor)
    else:
        layer = ar.RFLayer(1, 1, 0)
    moved = ar.bytes_moved([math.prod(shape), math.prod(out)]) if shape else 0
    row = {"stage": label, "input": list(shape or ()), "output": list(out or ()),
           "formulas": [], "params": 0, "params_formula": f"{op}: no weights", "macs": 0,
           "macs_formula": f"{op}: a copy, no multiply-accumulates", "bytes": moved,
           "rf": [_rf_text(ar.chain([layer]))] * n}
    return row, [layer] * n


def _norm_row(label: str, channels: int, shape: tuple[int, ...]) -> dict:
    """A BatchNorm counted but not drawn: its affine weight and bias; its per-element scale and
    shift are no multiply-accumulates (as torch's ``FlopCounterMode`` counts)."""
    n = len(shape) - 2
    return {"stage": label, "input": list(shape), "output": list(shape), "formulas": [],
            "params": 2 * channels, "params_formula": f"2·C = 2·{channels} (weight and bias)",
            "macs": 0, "macs_formula": "a per-channel scale and shift, not counted as MACs",
            "bytes": ar.bytes_moved([math.prod(shape), math.prod(shape)]),
            "rf": [_rf_text(ar.chain([ar.RFLayer(1, 1, 0)]))] * n}


def _then_rows(scene: Scene) -> tuple[list[dict], list[int] | None]:
    """The rows counted after ``scene``'s stage but not drawn (``meta['then']``: BatchNorms,
    ASPP's image pooling and projection), and the output shape one of them sets, if any."""
    rows, output = [], None
    for part in scene.meta.get("then", ()):
        if "norm" in part:
            rows.append(_norm_row(part["label"], part["norm"], tuple(part["shape"])))
        else:
            rows.append(_conv_row(part["label"], part["spec"], tuple(part["shape"]))[0])
            if part.get("output"):
                output = rows[-1]["output"]
    return rows, output


def _label(scene: Scene) -> str:
    return scene.caption[0].split(":")[0] if scene.caption else ""


def animation_numbers(scenes: Sequence[Scene]) -> dict[str, Any]:
    """Per stage and in total: formulas, params, MACs, bytes and receptive field."""
    first: dict[int, Scene] = {}
    for s in scenes:
        first.setdefault(int(s.meta.get("stage", 0)), s)
    rows: list[dict] = []
    chain_layers: list[list] = []  # sequential stages: per stage, its per-axis layers
    branch_fields: list[list] = []
    output: list[int] | None = None
    for _, scene in sorted(first.items()):
        if "specs" in scene.meta:  # a stack recorded in one frame (WaveNet)
            for i, (spec, shape) in enumerate(scene.meta["specs"]):
                row, layers = _conv_row(f"layer {i + 1}", spec, shape)
                rows.append(row)
                chain_layers.append(layers)
        elif "spec" in scene.meta:
            row, layers = _conv_row(_label(scene), scene.meta["spec"],
                                    tuple(scene.meta["input_shape"]))
            rows.append(row)
            (branch_fields if scene.meta.get("branch") else chain_layers).append(layers)
            output = None if scene.meta.get("branch") else row["output"]
        elif "copy" in scene.meta and scene.meta.get("input_shape"):
            row, layers = _copy_row(_label(scene), scene)
            rows.append(row)
            chain_layers.append(layers)
            output = row["output"]
        if "specs" in scene.meta:
            output = rows[-1]["output"]
        extra, joined = _then_rows(scene)
        rows += extra
        output = joined or output
    axes = max((len(ls) for ls in chain_layers + branch_fields), default=0)
    rf = []
    for a in range(axes):
        if branch_fields:
            field, _ = ar.largest(ar.chain([ls[a]]) for ls in branch_fields if len(ls) > a)
        else:
            field = ar.chain([ls[a] for ls in chain_layers if len(ls) > a])
        rf.append(_rf_text(field))
    totals = {"params": sum(r["params"] for r in rows), "macs": sum(r["macs"] for r in rows),
              "bytes": sum(r["bytes"] for r in rows), "rf": rf,
              "output": output}
    return {"stages": rows, "totals": totals}
