"""Tour examples: a seed article's code example as ConvSpecs, checked against what it claims.

Every number printed by ``convzoo tour`` comes from here, and every number here comes from
``ConvSpec`` / ``convzoo.arithmetic``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from convzoo.arithmetic.variants import variant
from convzoo.spec import ConvSpec

__all__ = ["Stage", "LayerExample", "LayerResult", "ArithmeticExample", "evaluate"]


@dataclass(frozen=True)
class Stage:
    """One step of an example: a convolution, or (``spec=None``) a shape-preserving op such as
    a channel shuffle (no parameters, no MACs)."""

    label: str
    spec: ConvSpec | None = None


@dataclass(frozen=True)
class LayerExample:
    """A seed code example: an input, a chain of stages, and what the article states.

    Attributes:
        seed: seed document number ("000".."004").
        title: what the example shows.
        variant: a name of the one vocabulary (:class:`convzoo.arithmetic.Variant`: conv,
            separable, transposed...); an alias is stored under its canonical name.
        input_shape: the example's input tensor shape.
        stages: applied in order, each to the previous output.
        claimed_shape: output shape the article prints or states (None if it states none).
        claimed_params: parameter count the article states (None if it states none).
        baseline: a standard conv to compare params/MACs with (same in/out channels, kernel).
        note: one sentence of context, e.g. where the article is wrong and why.
    """

    seed: str
    title: str
    variant: str
    input_shape: tuple[int, ...]
    stages: tuple[Stage, ...]
    claimed_shape: tuple[int, ...] | None = None
    claimed_params: int | None = None
    baseline: ConvSpec | None = None
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "variant", variant(self.variant, "variant").value)


@dataclass(frozen=True)
class LayerResult:
    """Numbers computed by convzoo for a :class:`LayerExample`."""

    example: LayerExample
    shapes: tuple[tuple[int, ...], ...]  # input, then the output of every stage
    params: int
    macs: int
    formulas: tuple[tuple[str, ...], ...]  # per conv stage: output-size formula per axis
    param_formulas: tuple[str, ...]
    baseline_params: int | None = None
    baseline_macs: int | None = None
    mismatches: tuple[str, ...] = field(default=())

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shapes[-1]

    @property
    def agrees(self) -> bool:
        """True when every claim of the article matches convzoo's numbers."""
        return not self.mismatches


def evaluate(example: LayerExample) -> LayerResult:
    """Run the example's arithmetic: shapes, params, MACs, formulas and claim checks.

    >>> ex = LayerExample("001", "256 filters", "conv", (1, 3, 12, 12),
    ...                   (Stage("conv 5x5", ConvSpec(3, 256, 5)),), (1, 256, 8, 8))
    >>> r = evaluate(ex)
    >>> r.output_shape, r.params, r.macs, r.agrees
    ((1, 256, 8, 8), 19456, 1228800, True)
    """
    shapes = [tuple(example.input_shape)]
    params = macs = 0
    formulas: list[tuple[str, ...]] = []
    param_formulas: list[str] = []
    for stage in example.stages:
        if stage.spec is None:
            shapes.append(shapes[-1])
            continue
        spec = stage.spec
        params += spec.params
        macs += spec.macs(shapes[-1])
        formulas.append(spec.output_formulas(shapes[-1]))
        param_formulas.append(spec.params_formula())
        shapes.append(spec.output_shape(shapes[-1]))
    mismatches = []
    if example.claimed_shape is not None and shapes[-1] != tuple(example.claimed_shape):
        mismatches.append(f"the article (seed {example.seed}) says {example.claimed_shape}, "
                          f"the arithmetic gives {shapes[-1]}")
    if example.claimed_params is not None and params != example.claimed_params:
        mismatches.append(f"the article (seed {example.seed}) says {example.claimed_params} "
                          f"params, convzoo counts {params}")
    base_params = base_macs = None
    if example.baseline is not None:
        base_params = example.baseline.params
        base_macs = example.baseline.macs(example.input_shape)
    return LayerResult(
        example, tuple(shapes), params, macs, tuple(formulas), tuple(param_formulas),
        base_params, base_macs, tuple(mismatches),
    )


@dataclass(frozen=True)
class ArithmeticExample:
    """A scalar claim of a seed article (an output size, a receptive field...).

    ``compute`` returns convzoo's value and the formula it used, as text. ``restates`` names
    the :class:`LayerExample` (by title) that already checks the same claim of the article:
    the table shows it, the count of claims does not count it twice.
    """

    seed: str
    title: str
    compute: Callable[[], tuple[object, str]]
    claimed: object = None
    note: str = ""
    restates: str | None = None

    def result(self) -> tuple[object, str, bool]:
        """``(value, formula, agrees with the article)``."""
        value, formula = self.compute()
        return value, formula, self.claimed is None or value == self.claimed
