"""The printed form of an :class:`~convzoo.fast.optimizer.OptimizeReport`: what ``optimize``
did, and every candidate it timed with its spread (``convzoo optimize`` prints it; tables at
80 columns through :mod:`convzoo.analysis.table`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from convzoo.analysis.table import Column, Rendered, TableSpec

__all__ = ["OptimizeView", "sizes_text"]


def sizes_text(sizes: tuple[object, ...], backend: str) -> str:
    """The input shapes a result takes, in words.

    >>> sizes_text(((1, None), 3, 224, 224), "onnxruntime")
    '(N, 3, 224, 224) with N >= 1'
    >>> sizes_text(((0, None), (0, None)), "torch")
    'any (each new shape optimized and verified on first use)'
    """
    from convzoo.fast.dynamic import describe_shape

    if backend == "torch":
        return "any (each new shape optimized and verified on first use)"
    return describe_shape(tuple(sizes))  # type: ignore[arg-type]


class OptimizeView(Rendered):
    """Tables of one report: what was done, and the candidates' timings.

    >>> from convzoo.fast.optimizer import OptimizeReport
    >>> r = OptimizeReport("torch", 2, 0, 1, True, {"convs": 2, "fused": 2, "fft": 0,
    ...                    "native": 0}, 1e-7, 0.5, candidates_ms={"torch@1": (1.0, 0.9, 1.2)})
    >>> lines = str(OptimizeView(r)).splitlines()
    >>> lines[0].strip(), [line.split()[:3] for line in lines if line.startswith("backend")]
    ('convzoo.optimize', [['backend', 'torch', '(fp32)']])
    """

    def __init__(self, report: Any) -> None:
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (the thread plan as a dict)."""
        data = dataclasses.asdict(self.report)
        data["candidates_ms"] = {k: dict(zip(("median", "q1", "q3"), v))
                                 for k, v in self.report.candidates_ms.items()}
        return data

    def _rows(self) -> list[tuple[str, str]]:
        r = self.report
        rows = [("backend", f"{r.backend} ({r.precision})"),
                ("threads", r.threads.describe() if r.threads is not None else "-"),
                ("capture", r.capture),
                ("rewrites", f"{r.folded_batchnorms} BatchNorms folded, {r.folded_shuffles} "
                             f"shuffles folded, {r.interleaved_units} concat+shuffle as one "
                             "copy")]
        if r.backend == "torch":
            post = f" ({r.post_op_activations} as oneDNN post-ops, {r.guard_checks} " \
                   "magnitude checks)" if r.post_op_activations else ""
            rows.append(("fusions", f"{r.fused_activations} activations{post}, "
                                    f"{r.fused_adds} adds"))
            c = r.coverage
            if c:
                rows.append(("convs", f"{c.get('convs', 0)}: {c.get('fused', 0)} oneDNN, "
                                      f"{c.get('fft', 0)} FFT, {c.get('native', 0)} native"))
        rows += [("input sizes", sizes_text(r.input_sizes, r.backend)),
                 ("errors", f"example {r.example_error:.3g}, fresh input {r.fresh_error:.3g} "
                            f"(tolerance {r.tolerance:.3g})"),
                 ("ready in", f"{r.seconds:.1f} s")]
        return rows

    def table_specs(self, wide: bool = False) -> list[TableSpec]:
        """The two tables: what was done; every candidate timed."""
        done = TableSpec("convzoo.optimize", (Column("what", "left"),
                                              Column("value", "left", text=True)), self._rows())
        r = self.report
        chosen = next((k for k in r.candidates_ms if k.split("@")[0] == r.backend and
                       r.threads is not None and k.startswith(f"{r.backend}@{r.threads.threads}")
                       and (("+regions" in k) == bool(r.threads.regions))), None)
        base = r.candidates_ms[chosen][0] if chosen else None
        rows = []
        for name, (med, q1, q3) in sorted(r.candidates_ms.items(), key=lambda kv: kv[1][0]):
            mark = "*" if name == chosen else ""
            rel = f"{med / base:.2f}x" if base else "-"
            rows.append((f"{name}{mark}", f"{med:.3g}", f"{q1:.3g}-{q3:.3g}",
                         f"{(q3 - q1) / 2:.2g}", rel))
        timed = TableSpec("candidates: ms per call (interleaved blocks)", (
            Column("candidate", "left"), Column("median"), Column("q1-q3"), Column("+/-"),
            Column("vs chosen")), rows)
        return [done, timed] if rows else [done]

    def footer(self) -> str:
        """The decision, what bfloat16 measured against float32 (when slower), and each
        candidate left out."""
        r = self.report
        lines = [f"decision: {r.decision}"] if r.decision else []
        if r.within_noise and len(r.within_noise) > 1:
            lines.append(f"within noise: {', '.join(r.within_noise)}")
        lines += [f"rewrites for {name}: {what}"
                  for name, what in getattr(r, "runtime_rewrites", {}).items()]
        if getattr(r, "precision_note", ""):
            lines.append(f"precision: {r.precision_note}")
        lines += [f"left out: {name}: {why}" for name, why in r.dropped.items()]
        return "\n".join(lines)
