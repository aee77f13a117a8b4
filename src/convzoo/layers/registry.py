"""The layer registry behind ``convzoo.create`` and ``convzoo.available``.

Each layer class registers under a kind name with a one-line description and a function
returning small example instances (module, input shape) that the generic test-suite runs
through every check (reference engine, gradcheck, export, ONNX, compile, state_dict...).

Registration also gives the class a ``__prepare_scriptable__`` hook (unless it defines its
own): ``torch.jit.script`` calls it on a module and on every submodule before compiling, so
scripting a convzoo layer, or a model holding one, stops at once with a message naming the
layer and what to use instead, not deep inside the TorchScript compiler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from convzoo.names import unknown_name

__all__ = ["LayerEntry", "REGISTRY", "register", "create", "available", "refuse_script"]

Example = tuple[nn.Module, tuple[int, ...]]


@dataclass(frozen=True)
class LayerEntry:
    """One registered layer kind."""

    kind: str
    cls: type[nn.Module]
    description: str
    examples: Callable[[], list[Example]]


REGISTRY: dict[str, LayerEntry] = {}


def refuse_script(module: nn.Module) -> nn.Module:
    """The ``__prepare_scriptable__`` of convzoo layers: a RuntimeError explaining why
    ``torch.jit.script`` cannot compile them and what works instead.

    >>> import torch, convzoo
    >>> torch.jit.script(convzoo.layers.Conv2d(3, 8, 3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: torch.jit.script cannot compile convzoo's Conv2d: ... Use torch.jit.trace(...
    """
    raise RuntimeError(
        f"torch.jit.script cannot compile convzoo's {module._get_name()}: its forward checks "
        "the input and works out shapes and padding in Python (convzoo.arithmetic). Use "
        "torch.jit.trace(module, example_input) (also behind torch.onnx.export(..., "
        "dynamo=False)), torch.export.export or torch.compile."
    )


def register(
    kind: str, description: str, examples: Callable[[], list[Example]]
) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a layer to the registry under ``kind``."""

    def decorate(cls: type[nn.Module]) -> type[nn.Module]:
        if kind in REGISTRY:
            raise ValueError(f"layer kind {kind!r} is registered twice")
        REGISTRY[kind] = LayerEntry(kind, cls, description, examples)
        if "__prepare_scriptable__" not in vars(cls):
            cls.__prepare_scriptable__ = refuse_script  # type: ignore[attr-defined]
        return cls

    return decorate


def available() -> dict[str, str]:
    """Every layer kind with its one-line description.

    >>> 'conv' in available()
    True
    """
    return {kind: entry.description for kind, entry in sorted(REGISTRY.items())}


def create(kind: str, **arguments: Any) -> nn.Module:
    """Build a layer by kind name with torch.nn's argument names.

    ``kind`` is a name of the one vocabulary (:func:`convzoo.arithmetic.variant`), so the
    aliases work too: ``'grouped'`` builds a ``'group'`` layer, ``'atrous'`` a ``'dilated'``.

    >>> import convzoo
    >>> convzoo.create("conv", in_channels=3, out_channels=16, kernel_size=3, stride=2,
    ...                padding="same")
    Conv2d(3, 16, kernel_size=(3, 3), stride=(2, 2), padding=same)
    """
    from convzoo.arithmetic.variants import ALIAS_NOTE, ALIASES, resolve_alias, suggestion_for

    name = resolve_alias(kind) if isinstance(kind, str) else kind
    if name not in REGISTRY:
        aliases = [a for a, v in ALIASES.items() if v in REGISTRY]
        raise ValueError(unknown_name("kind", kind, sorted(REGISTRY), "layer kind", aliases,
                                      ALIAS_NOTE, suggestion_for(kind) if isinstance(kind, str)
                                      else None))
    kind = str(name)
    cls = REGISTRY[kind].cls
    params = inspect.signature(cls.__init__).parameters
    accepted = [p for p in params if p != "self" and params[p].kind not in (
        inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    renamed = getattr(cls.__init__, "__renamed__", {})  # old names, accepted with a warning
    unknown = sorted(set(arguments) - set(accepted) - set(renamed))
    if unknown:
        raise ValueError(
            f"unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} for "
            f"{kind!r} ({cls.__name__}); valid: {', '.join(accepted)}"
        )
    missing = [
        p for p in accepted
        if params[p].default is inspect.Parameter.empty and p not in arguments
        and p not in (renamed.get(a) for a in arguments)
    ]
    if missing:
        raise ValueError(
            f"missing argument{'s' if len(missing) > 1 else ''} {', '.join(missing)} for "
            f"{kind!r} ({cls.__name__})"
        )
    return cls(**arguments)
