"""The model registry behind ``convzoo.models.create`` and ``convzoo.models.available``.

Each zoo model is a builder function ``build(config) -> nn.Module`` registered (with the
:func:`register_model` decorator) with a typed config dataclass (DESIGN.md style rule 10), the
input shape it is specified at, the variant kinds it shows off and the source (paper, table)
its numbers reproduce.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch.nn as nn

from convzoo.arithmetic.variants import variant
from convzoo.names import renamed_keys, renames_of, unknown_name

__all__ = ["ModelEntry", "MODELS", "register_model", "create", "available", "entry"]

Builder = Callable[[Any], nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """One registered zoo model.

    Attributes:
        name: the zoo name (``convzoo.models.create(name)``).
        build: ``build(config) -> nn.Module``.
        config: the config dataclass; its defaults are the reference configuration.
        description: one line for ``available()``.
        input_shape: the input ``(N, C, *spatial)`` at which the reference numbers hold.
        variants: the convolution variants the model is famous for: names of the one
            vocabulary (:class:`convzoo.arithmetic.Variant`, the kinds ``summary`` reports);
            aliases given to :func:`register_model` are stored under their canonical names.
        source: the paper and table (or other source) its params/MACs reproduce.
    """

    name: str
    build: Builder
    config: type
    description: str
    input_shape: tuple[int, ...]
    variants: tuple[str, ...]
    source: str


MODELS: dict[str, ModelEntry] = {}


def register_model(
    name: str | None = None,
    *,
    config: type,
    description: str,
    input_shape: tuple[int, ...],
    variants: tuple[str, ...],
    source: str,
) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to the zoo (torchvision's ``register_model(name=None)``):
    under ``name``, or the builder's ``__name__`` when None; the metadata are keyword-only
    (the fields of :class:`ModelEntry`).

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class TinyConfig:
    ...     width: int = 4
    >>> @register_model(config=TinyConfig, description="a doctest model",
    ...                 input_shape=(1, 1, 8, 8), variants=("standard",), source="here")
    ... def tiny_doctest_model(config):
    ...     return None
    >>> MODELS["tiny_doctest_model"].variants, MODELS.pop("tiny_doctest_model").description
    (('conv',), 'a doctest model')
    """
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"config for {name!r} must be a dataclass, got {config!r}")
    if isinstance(variants, str) or not variants:
        raise ValueError(f"`variants` (={variants!r}) of model {name!r} must be a non-empty "
                         "tuple of variant names")
    try:
        tags = tuple(dict.fromkeys(variant(v, "variants").value for v in variants))
    except ValueError as e:
        raise ValueError(f"{e} (model {name!r})") from None

    def decorate(build: Builder) -> Builder:
        key = name if name is not None else build.__name__
        if key in MODELS:
            raise ValueError(f"model {key!r} is registered twice")
        MODELS[key] = ModelEntry(key, build, config, description, tuple(input_shape), tags,
                                 source)
        return build

    return decorate


def entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; ValueError listing the zoo if unknown."""
    if name not in MODELS:
        raise ValueError(unknown_name("name", name, sorted(MODELS), "zoo model"))
    return MODELS[name]


def available() -> dict[str, str]:
    """Every zoo model with its one-line description, sorted by name."""
    return {name: e.description for name, e in sorted(MODELS.items())}


def create(name: str, **config: Any) -> nn.Module:
    """Build zoo model ``name``; keyword arguments are fields of its config dataclass.

    Unknown fields raise ValueError listing the valid ones; the config dataclass checks
    values in its ``__post_init__``.
    """
    e = entry(name)
    fields = [f.name for f in dataclasses.fields(e.config)]
    config = renamed_keys(config, renames_of(e.config))  # old field names, with a warning
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"for model {name!r} ({e.config.__name__}); valid: {', '.join(fields) or 'none'}"
        )
    return e.build(e.config(**config))
