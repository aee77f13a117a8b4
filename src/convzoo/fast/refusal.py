"""``Refusal``: the one error type :func:`convzoo.optimize` uses to say no to a model.

Argument mistakes (an unknown backend, an example that is not a tensor) are plain
``ValueError``\\ s naming the argument. Everything else optimize declines — a model it
cannot capture soundly, state it cannot carry, a backend that cannot run the model, a
result that differs from the original — is a :class:`Refusal` (a ``ValueError``): one
line naming the requested backend, the module and the cause. Code tells the two apart by
type, never by the message's words.
"""

from __future__ import annotations

import torch.nn as nn

__all__ = ["Refusal", "describe", "refuse"]


class Refusal(ValueError):
    """``optimize`` declines this model (or this result); the message is one line.

    >>> issubclass(Refusal, ValueError)
    True
    """


def describe(name: str, module: nn.Module) -> str:
    """``'name' (Type)``, the way refusals name a module (``'<root>'`` for the model).

    >>> describe("", nn.ReLU()), describe("block.0", nn.ReLU())
    ("'<root>' (ReLU)", "'block.0' (ReLU)")
    """
    return f"'{name or '<root>'}' ({type(module).__name__})"


def refuse(model: nn.Module, reason: str, where: str | None = None,
           backend: str | None = None) -> Refusal:
    """The one-line refusal: ``model (Type) cannot be optimized soundly with backend='b':
    module 'a.b' (Type): reason`` (whitespace runs, newlines included, become one space).

    >>> print(refuse(nn.ReLU(), "writes 'n'", describe("a", nn.ReLU()), "torch"))
    `model` (ReLU) cannot be optimized soundly with backend='torch': module 'a' (ReLU): writes 'n'
    """
    place = f"module {where}: " if where is not None else ""
    line = " ".join(f"{place}{reason}".split())
    wanted = f" with backend={backend!r}" if backend is not None else ""
    return Refusal(f"`model` ({type(model).__name__}) cannot be optimized soundly{wanted}: "
                   f"{line}")
