"""convzoo.decompose: trained dense convs rewritten as cheaper convzoo layers, measured.

Methods (each exact at full rank): ``separable`` (Network Decoupling), ``spatially_separable``
(Jaderberg scheme 2), ``flattened`` (Jin et al.), ``cp`` and ``tucker`` (TensorLy), and
``auto`` (per layer, the method and rank meeting a budget with the lowest output error).

The package is callable: ``convzoo.decompose(model, example_input, method=...)`` is
:func:`convzoo.decompose.api.decompose`.
"""

import sys
import types
from typing import Any

from convzoo.decompose.advise import Advice, advise
from convzoo.decompose.api import decompose
from convzoo.decompose.factorization import Factorization
from convzoo.decompose.methods import METHODS, check_method, factorize
from convzoo.decompose.report import LayerReport, Report
from convzoo.decompose.target import METHOD_NAMES, Target, find_targets, refusal

__all__ = [
    "Advice", "Factorization", "LayerReport", "METHODS", "METHOD_NAMES", "Report", "Target",
    "advise", "check_method", "decompose", "factorize", "find_targets", "refusal",
]


class _CallablePackage(types.ModuleType):
    """``convzoo.decompose(...)`` calls :func:`decompose` (the package and the function share
    the name the issue gives them)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return decompose(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
