"""convzoo: every convolution used in deep learning — build, compute, count, see, train, run.

Layers of the package (imports point down this list only): ``arithmetic`` (pure integer
math), ``spec`` (ConvSpec), ``reference`` (NumPy engine), ``functional`` and ``layers``
(torch modules), ``cli``.
"""

from convzoo import arithmetic, functional, layers
from convzoo.layers import available, create
from convzoo.spec import ConvSpec, spec_from_call

__version__ = "0.1.0"

__all__ = [
    "ConvSpec", "arithmetic", "available", "create", "functional", "layers", "spec_from_call",
    "__version__",
]
