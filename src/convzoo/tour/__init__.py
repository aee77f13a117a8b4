"""The guided tour (``convzoo tour``): the seed articles' examples, computed by convzoo."""

from convzoo.tour.examples import (
    ArithmeticExample,
    LayerExample,
    LayerResult,
    Stage,
    evaluate,
)
from convzoo.tour.seeds import ARITHMETIC_EXAMPLES, LAYER_EXAMPLES

__all__ = [
    "ARITHMETIC_EXAMPLES", "LAYER_EXAMPLES", "ArithmeticExample", "LayerExample",
    "LayerResult", "Stage", "evaluate",
]
