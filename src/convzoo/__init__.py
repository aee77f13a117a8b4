"""convzoo: every convolution used in deep learning — build, compute, count, see, train, run.

Layers of the package (imports point down this list only): ``arithmetic`` (pure integer
math), ``spec`` (ConvSpec), ``reference`` (NumPy engine), ``functional`` (native and fast
paths) and ``layers`` (torch modules), ``analysis`` (summary, receptive fields, compare,
profile), ``viz`` (animations, figures, report), ``models`` (the zoo), ``train``, ``fast``
(``optimize`` for inference), ``cli``.

``import convzoo`` imports nothing heavy: every name below is loaded on first use (PEP 562
module ``__getattr__``), so ``convzoo.arithmetic`` and the CLI's arithmetic commands never
import torch, and ``convzoo.create`` imports torch and the layers when it is first called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> (module, attribute in it; None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "analysis": ("convzoo.analysis", None),
    "arithmetic": ("convzoo.arithmetic", None),
    "functional": ("convzoo.functional", None),
    "layers": ("convzoo.layers", None),
    "models": ("convzoo.models", None),
    "compare": ("convzoo.analysis", "compare"),
    "profile": ("convzoo.analysis", "profile"),
    "receptive_field": ("convzoo.analysis", "receptive_field"),
    "summary": ("convzoo.analysis", "summary"),
    "optimize": ("convzoo.fast.optimizer", "optimize"),
    "available": ("convzoo.layers", "available"),
    "create": ("convzoo.layers", "create"),
    "ConvSpec": ("convzoo.spec", "ConvSpec"),
    "spec_from_call": ("convzoo.spec", "spec_from_call"),
    # the package is callable: convzoo.decompose(model, x, ...) runs decompose.api.decompose
    "decompose": ("convzoo.decompose", None),
    "advise": ("convzoo.decompose", "advise"),
}

__all__ = [
    "ConvSpec", "advise", "analysis", "arithmetic", "available", "compare", "create",
    "decompose", "functional", "layers", "models", "optimize", "profile", "receptive_field",
    "spec_from_call", "summary", "__version__",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads these
    from convzoo import analysis, arithmetic, functional, layers, models
    from convzoo.analysis import compare, profile, receptive_field, summary
    from convzoo.decompose import advise, decompose
    from convzoo.fast.optimizer import optimize
    from convzoo.layers import available, create
    from convzoo.spec import ConvSpec, spec_from_call


def __getattr__(name: str) -> Any:
    """Load a public name on first access and cache it in the module's namespace."""
    if name not in _LAZY:
        raise AttributeError(f"module 'convzoo' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = import_module(module) if attribute is None else getattr(import_module(module),
                                                                    attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
