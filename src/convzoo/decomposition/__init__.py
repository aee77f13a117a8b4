"""convzoo.decomposition: trained dense convs rewritten as cheaper convzoo layers, searched
fast, measured.

Methods (each exact at full rank): ``separable`` (Network Decoupling), ``spatially_separable``
(Jaderberg scheme 2), ``flattened`` (Jin et al.), ``cp`` (CP-ALS), ``tucker`` (Tucker-2),
``svd`` (a conv then a 1x1 conv; two 1x1 convs for a 1x1 conv), and ``auto`` (per layer, the
method and rank meeting a budget with the lowest error).

The functions are exported as ``convzoo.decompose`` and ``convzoo.advise``.
"""

from convzoo.decomposition.advice import Advice, AdviceLayer, AdviceOption, PlanScore
from convzoo.decomposition.advising import Interrupted, advise
from convzoo.decomposition.api import decompose
from convzoo.decomposition.factorization import Factorization
from convzoo.decomposition.methods import METHODS, check_method, curve, factorize
from convzoo.decomposition.report import LayerReport, Report
from convzoo.decomposition.target import METHOD_NAMES, Target, find_targets, refusal

__all__ = [
    "Advice", "AdviceLayer", "AdviceOption", "Factorization", "Interrupted", "LayerReport",
    "METHODS", "METHOD_NAMES", "PlanScore", "Report", "Target", "advise", "check_method",
    "curve", "decompose", "factorize", "find_targets", "refusal",
]
