"""convzoo.decompose: trained dense convs rewritten as cheaper convzoo layers, measured.

Methods (each exact at full rank): ``separable`` (Network Decoupling), ``spatially_separable``
(Jaderberg scheme 2), ``flattened`` (Jin et al.), ``cp`` and ``tucker`` (TensorLy).
"""

from convzoo.decompose.factorization import Factorization
from convzoo.decompose.methods import METHODS, check_method, factorize
from convzoo.decompose.target import METHOD_NAMES, Target, find_targets, refusal

__all__ = [
    "Factorization", "METHODS", "METHOD_NAMES", "Target", "check_method", "factorize",
    "find_targets", "refusal",
]
