"""Names users type: the closest valid name for a misspelled one, and old names kept for one
release.

At the bottom of the package (no torch, no NumPy): the vocabulary
(:func:`convzoo.arithmetic.variant`), ``convzoo.create``, the zoo, ``compare``, the playground
and the CLI suggest the closest valid name the same way, and every renamed argument, config
field, attribute or public name warns the same way.

A renamed name keeps working until :data:`REMOVED_IN`, with a ``FutureWarning`` (shown by
default, unlike ``DeprecationWarning``) naming the new name:

>>> import warnings
>>> @renamed_arguments(kernel="kernel_size")
... def area(kernel_size):
...     return kernel_size**2
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     area(kernel=3), str(caught[0].message)
(9, '`kernel` is deprecated and will be removed in convzoo 0.2: use `kernel_size`')
>>> did_you_mean("seperable", ["separable", "depthwise", "group"])
" (did you mean 'separable'?)"
"""

from __future__ import annotations

import difflib
import functools
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = ["REMOVED_IN", "closest", "did_you_mean", "unknown_name", "deprecated_message",
           "warn_renamed", "renamed_keys", "renames_of", "renamed_arguments", "renamed_function",
           "renamed_fields", "renamed_attribute", "module_aliases"]

#: The release that drops the deprecated names.
REMOVED_IN = "0.2"

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name closest to ``name`` (case and ``-``/``_``/space insensitive), or None
    when none is close (``difflib``'s similarity ratio below 0.75: one or two letters wrong,
    missing or swapped in a name of five or more, never ``'alexnet'`` for ``'wavenet'``).

    >>> closest("Grouped", ["group", "conv"]), closest("sep", ["conv"])
    ('group', None)
    """
    def key(text: str) -> str:
        return "_".join(str(text).strip().lower().replace("-", " ").split())

    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(key(choice), choice)
    match = difflib.get_close_matches(key(name), list(by_key), n=1, cutoff=0.75)
    return by_key[match[0]] if match else None


def did_you_mean(name: Any, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or ``""``: the tail of an error
    message.

    >>> did_you_mean("atrus", ["dilated", "atrous"]), did_you_mean(3, ["conv"])
    (" (did you mean 'atrous'?)", '')
    """
    if not isinstance(name, str):
        return ""
    match = closest(name, choices)
    return f" (did you mean {match!r}?)" if match is not None else ""


def unknown_name(argument: str, value: Any, valid: Iterable[str], what: str,
                 also: Iterable[str] = (), note: str = "", suggestion: str | None = None
                 ) -> str:
    """The error message for a name outside a closed set: the closest valid name first (looked
    up among ``valid`` and ``also``, e.g. aliases, unless ``suggestion`` gives it), then the
    valid names and ``note``. ``argument`` is the name in backquotes (``'kind'``), or, already
    quoted, what the value is (``'`variants` entry'``).

    >>> unknown_name("kind", "seperable", ["conv", "separable"], "variant name")
    "`kind` (='seperable') is not a variant name; did you mean 'separable'? Valid: conv, \
separable"
    >>> unknown_name("kind", "xyz", ["conv", "separable"], "variant name", note=" (or an alias)")
    "`kind` (='xyz') must be one of: conv, separable (or an alias)"
    """
    valid = list(valid)
    match = suggestion
    if match is None and isinstance(value, str):
        match = closest(value, [*valid, *also])
    listed = ", ".join(valid) + note
    subject = argument if argument.startswith("`") else f"`{argument}`"
    if match is None:
        return f"{subject} (={value!r}) must be one of: {listed}"
    article = "an" if what[:1] in tuple("aeiou") else "a"
    return (f"{subject} (={value!r}) is not {article} {what}; did you mean {match!r}? "
            f"Valid: {listed}")


def deprecated_message(old: str, new: str) -> str:
    """The one sentence every deprecated name warns with.

    >>> deprecated_message("--kernel", "--kernel-size")
    '`--kernel` is deprecated and will be removed in convzoo 0.2: use `--kernel-size`'
    """
    return f"`{old}` is deprecated and will be removed in convzoo {REMOVED_IN}: use `{new}`"


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn (``FutureWarning``) that ``old`` is now called ``new``."""
    warnings.warn(deprecated_message(old, new), FutureWarning, stacklevel=stacklevel)


def renamed_keys(kwargs: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """``kwargs`` with every old key of ``renames`` (old -> new) under its new name, each with
    a warning (for code that checks names before calling, such as ``convzoo.models.create``).

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     renamed_keys({"alpha": 0.5, "num_classes": 10}, {"alpha": "width_mult"})
    {'num_classes': 10, 'width_mult': 0.5}
    """
    return _rename(renames, dict(kwargs), 3)


def renames_of(cls: type) -> dict[str, str]:
    """Old -> new names a class's ``__init__`` still accepts (:func:`renamed_arguments`,
    :func:`renamed_fields`)."""
    return dict(getattr(cls.__init__, "__renamed__", {}))


def _rename(renames: dict[str, str], kwargs: dict[str, Any], stacklevel: int) -> dict[str, Any]:
    for old, new in renames.items():
        if old in kwargs:
            if new in kwargs:
                raise ValueError(f"`{old}` (={kwargs[old]!r}) and `{new}` (={kwargs[new]!r}) "
                                 f"name the same argument; pass only `{new}`")
            warn_renamed(old, new, stacklevel + 1)
            kwargs[new] = kwargs.pop(old)
    return kwargs


def renamed_arguments(**renames: str) -> Callable[[F], F]:
    """Decorator: the keyword arguments ``old=new`` still work under their old names, with a
    warning. The wrapper's signature is the new one; ``__renamed__`` maps old to new (so that
    ``convzoo.create`` accepts the old names too).
    """
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return function(*args, **_rename(renames, kwargs, 3))

        wrapper.__renamed__ = {**getattr(function, "__renamed__", {}), **renames}  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_function(old: str, new: str) -> Callable[[F], F]:
    """Decorator for a function kept under its old name ``old``: calling it warns, naming
    ``new`` (both as users write them, e.g. ``'convzoo.analysis.summarize'``)."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            warn_renamed(old, new)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` returning attribute ``new``, with a warning."""
    def get(self: Any) -> Any:
        warn_renamed(f"{type(self).__name__}.{old}", f"{type(self).__name__}.{new}")
        return getattr(self, new)

    return property(get, doc=f"Deprecated: use ``{new}``.")


def renamed_fields(**renames: str) -> Callable[[C], C]:
    """Class decorator for a config dataclass whose fields were renamed: its ``__init__`` takes
    the old names (with a warning) and the old attributes read the new fields (with a warning).

    >>> from dataclasses import dataclass
    >>> @renamed_fields(alpha="width_mult")
    ... @dataclass(frozen=True)
    ... class Config:
    ...     width_mult: float = 1.0
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     Config(alpha=0.5).width_mult, Config(width_mult=0.25).alpha
    (0.5, 0.25)
    """
    def decorate(cls: C) -> C:
        cls.__init__ = renamed_arguments(**renames)(cls.__init__)  # type: ignore[misc]
        for old, new in renames.items():
            setattr(cls, old, renamed_attribute(old, new))
        return cls

    return decorate


def module_aliases(module: str, aliases: dict[str, tuple[str, Callable[[], Any]]]
                   ) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) serving deprecated names: ``old -> (new name, loader
    of the object)``; the warning names ``module.old`` and ``module.new``."""
    def __getattr__(name: str) -> Any:
        if name not in aliases:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new, load = aliases[name]
        warn_renamed(f"{module}.{name}", f"{module}.{new}")
        return load()

    return __getattr__
