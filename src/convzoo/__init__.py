"""convzoo: every convolution used in deep learning — build, compute, count, see, train, run.

Layers of the package (imports point down this list only): ``arithmetic`` (pure integer
math), ``spec`` (ConvSpec), ``reference`` (NumPy engine), ``functional`` (native and fast
paths) and ``layers`` (torch modules), ``analysis`` (summary, receptive fields, compare,
profile), ``viz`` (animations, figures, report), ``models`` (the zoo), ``train``, ``fast``
(``optimize`` for inference), ``cli``.
"""

from convzoo import analysis, arithmetic, functional, layers
from convzoo.analysis import compare, profile, receptive_field, summary
from convzoo.fast.optimizer import optimize
from convzoo.layers import available, create
from convzoo.spec import ConvSpec, spec_from_call

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``convzoo.decompose`` (the package, callable as ``decompose()``) and ``convzoo.advise``,
    imported on first use."""
    if name in ("decompose", "advise"):
        import convzoo.decompose as package

        return package if name == "decompose" else package.advise
    raise AttributeError(f"module 'convzoo' has no attribute {name!r}")



__all__ = [
    "ConvSpec", "advise", "analysis", "arithmetic", "available", "compare", "create",
    "decompose", "functional", "layers", "optimize", "profile", "receptive_field",
    "spec_from_call", "summary", "__version__",
]
