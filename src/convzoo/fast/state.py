"""What a forward call could change besides its output, and what ``optimize`` refuses.

A captured graph computes outputs from inputs and constants; it carries nothing from one
call to the next. So a model is refused when a real forward call changes anything
reachable from it (:class:`Snapshot`, taken before and after that call):

- every attribute of every module, and everything reachable from them: containers
  (dict, list, tuple, set, deque, ...), objects (SimpleNamespace, dataclasses, any class
  with ``__dict__`` or ``__slots__``), functions' closures and defaults, tensors (by value),
  the targets of ``weakref.ref`` objects; an iterator or generator (``itertools.count()``)
  the model or a hook holds is refused outright, as its state cannot be read without
  advancing it (one reached only through the globals or closures of code forward calls is
  not: library code holds such objects, transformers' ``PreTrainedModel`` among them);
- its forward hooks and pre-hooks (per module and global) and what their closures hold;
- what its code reads outside the model: the module-level globals and closure variables
  that the methods of every module class (and every hook) name, followed through the
  user functions they call (torch's and convzoo's own code excluded).

A change made by the first call only (a lazy set-up, as some transformers models do) is
refused with a message saying that one warm-up call fixes it.

Hooks: a hook that changes nothing reachable (it transforms the inputs or outputs, or
fills a per-call collector as transformers' output-capturing hooks do) is *captured*: the
graph holds what it computes, so every call replays it. A hook that changes state (appends
to a list, counts calls) is refused by the snapshot after the real call, before any
tracing, so it never runs on the tracer's fake tensors. :func:`hooks` lists them for the
report.

Before any forward runs, :func:`check_structure` refuses submodules in training mode
inside an eval-mode model and torch.ao fake-quantization or observers.

Tensors read by forward from outside the model (globals, closures) are *external*: the
captured graph keeps a private copy of them taken at optimize time (like every parameter:
optimize works on a private copy of the model), and the report lists them.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import enum
import functools
import logging
import math
import sys
import threading
import types
import weakref
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn as nn

from convzoo.fast.refusal import describe, refuse

__all__ = ["Change", "Snapshot", "check_structure", "check_unchanged", "hook_based_norm",
           "hooks"]

_HOOKS = {"_forward_hooks": "forward hook", "_forward_pre_hooks": "forward pre-hook"}
_SKIPPED_ATTRIBUTES = {  # module bookkeeping that no forward call reads or changes
    "_backward_hooks", "_backward_pre_hooks", "_state_dict_hooks", "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks", "_is_full_backward_hook",
}
_OPAQUE = (type, types.ModuleType, types.BuiltinFunctionType, types.BuiltinMethodType,
           types.CodeType, types.FrameType, weakref.WeakKeyDictionary,
           weakref.WeakValueDictionary, logging.Logger, logging.Handler, logging.Manager,
           functools._lru_cache_wrapper, torch.dtype, torch.device, torch.layout,
           torch.memory_format, torch.finfo, torch.iinfo, torch.Generator, type(threading.Lock()),
           type(threading.RLock()), threading.Thread, threading.local)
_SET_UP = {"extra_repr", "reset_parameters", "_init_weights", "init_weights", "post_init",
           "_reset_parameters"}  # methods forward does not call (set-up, printing)
_MAX_OBJECTS = 200_000  # objects followed per snapshot (a bound on pathological graphs)
_MAX_DEPTH = 4  # user functions followed from a forward through the globals they call


_NOT_USER = {"torch", "convzoo", "functools", "typing", "abc", "builtins", "collections",
             "contextlib", "copy", "warnings", "numpy", "math", "operator", "itertools"}


def _user_code(fn: object) -> bool:
    """Whether ``fn`` is a Python function of the user's: not torch's, not convzoo's (whose
    module-level caches memoize pure functions), not the standard library's."""
    if not isinstance(fn, types.FunctionType):
        return False
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] not in _NOT_USER


def _names(code: types.CodeType) -> set[str]:
    """Every global or attribute name a code object (and the ones nested in it) uses."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


@dataclasses.dataclass
class _Root:
    label: str  # "module 'a' (Conv2d)" for a module, "global 'W' of module m" otherwise
    value: object
    where: str | None  # the described module owning it, for refusals
    external: bool  # outside the model (a global or a closure variable)


def _module_roots(net: nn.Module) -> list[_Root]:
    return [_Root(describe(name, m), m, describe(name, m), False)
            for name, m in net.named_modules(remove_duplicate=True)]


def _global_hook_tables() -> dict[str, dict[int, Any]]:
    from torch.nn.modules import module as torch_module

    return {"global forward hook": torch_module._global_forward_hooks,
            "global forward pre-hook": torch_module._global_forward_pre_hooks}


def _global_hooks() -> list[_Root]:
    """The global forward hooks and pre-hooks (``register_module_forward_hook``)."""
    return [_Root(f"{kind} {_hook_name(hook)}", hook, None, True)
            for kind, table in _global_hook_tables().items() for hook in table.values()]


def hooks(net: nn.Module) -> tuple[str, ...]:
    """Every forward hook and pre-hook that would run in a call of ``net`` (its modules'
    and the global ones), described.

    >>> m = nn.Sequential(nn.ReLU()); _ = m[0].register_forward_hook(lambda *a: None)
    >>> hooks(m)
    ("forward hook <lambda> on module '0' (ReLU)",)
    """
    found = [f"{kind} {_hook_name(h)}" for kind, table in _global_hook_tables().items()
             for h in table.values()]
    for name, m in net.named_modules():
        for attr, kind in _HOOKS.items():
            found += [f"{kind} {_hook_name(h)} on module {describe(name, m)}"
                      for h in getattr(m, attr).values()]
    return tuple(found)


def _external_roots(net: nn.Module) -> list[_Root]:
    """Globals and closure variables the module classes' code reads (followed through the
    user functions it calls, up to :data:`_MAX_DEPTH`)."""
    roots: list[_Root] = []
    seen_fns: set[int] = set()
    seen_values: set[int] = set()

    def scan(fn: types.FunctionType, owner: str, depth: int) -> None:
        if id(fn) in seen_fns or depth > _MAX_DEPTH:
            return
        seen_fns.add(id(fn))
        names = _names(fn.__code__)
        if names & {"globals", "vars", "_getframe", "currentframe"}:  # globals by any name
            names |= set(fn.__globals__)
        for name in sorted(names):
            if name.startswith("__") or name not in fn.__globals__:
                continue
            value = fn.__globals__[name]
            spaces = _namespace(value)
            if spaces is not None and id(value) not in seen_values:  # a class, module,
                seen_values.add(id(value))  # function or threading.local holding state
                roots.append(_Root(f"global {name!r} of module {fn.__module__}", spaces, None,
                                   True))
            if _user_code(value):
                scan(value, owner, depth + 1)
            elif not isinstance(value, (*_OPAQUE, types.FunctionType)) \
                    and id(value) not in seen_values:  # objects, modules, containers, tensors
                seen_values.add(id(value))
                roots.append(_Root(f"global {name!r} of module {fn.__module__}", value, None,
                                   True))
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if _user_code(value):
                scan(value, owner, depth + 1)
            elif id(value) not in seen_values and not isinstance(value, (nn.Module, type)):
                seen_values.add(id(value))
                roots.append(_Root(f"closure variable {name!r} of {fn.__qualname__}", value,
                                   None, True))

    for name, m in net.named_modules(remove_duplicate=True):
        owner = describe(name, m)
        fns = [f for cls in type(m).__mro__ if cls not in (nn.Module, object)
               and not cls.__module__.startswith("torch.")
               for name, f in vars(cls).items() if _user_code(f) and name not in _SET_UP
               and not (name.startswith("__") and name != "__call__")]
        fns += [f for f in vars(m).values() if _user_code(f)]  # an instance-level forward
        fns += [h for attr in _HOOKS for h in getattr(m, attr).values() if _user_code(h)]
        for fn in fns:
            scan(fn, owner, 0)
    for root in _global_hooks():
        if _user_code(root.value):
            scan(root.value, root.label, 0)  # type: ignore[arg-type]
    return roots


def _namespace(value: object) -> dict[str, Any] | None:
    """The state an object the walk treats as opaque keeps for a forward that names it: the
    data attributes of a user class used as a namespace, of a user (non-installed) module,
    of a user function (``helper.calls``), of a ``threading.local`` (this thread's)."""
    if isinstance(value, threading.local):
        return vars(value)
    if isinstance(value, types.FunctionType):
        return vars(value) if _user_code(value) else None
    if isinstance(value, type):
        if value.__module__.split(".")[0] in (*_NOT_USER, "builtins") \
                or issubclass(value, nn.Module):
            return None
    elif isinstance(value, types.ModuleType):
        file = getattr(value, "__file__", None) or ""
        top = value.__name__.split(".")[0]
        if top in _NOT_USER or top in sys.stdlib_module_names or "site-packages" in file \
                or "dist-packages" in file:
            return None
    else:
        return None
    return {k: v for k, v in vars(value).items() if not k.startswith("__") and not isinstance(
        v, (types.FunctionType, types.ModuleType, type, property, staticmethod, classmethod))}


def _leaf(value: object) -> tuple[Any, ...] | None:
    """The fingerprint of a plain value (compared by value), or None."""
    if value is None or isinstance(value, (bool, int, str, bytes, enum.Enum)):
        return ("value", type(value).__name__, value)
    if isinstance(value, float):
        return ("value", "float", "nan" if math.isnan(value) else value)
    if isinstance(value, complex):
        return ("value", "complex", repr(value))
    return None


def _is_ndarray(value: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.ndarray)


def _buffer_bytes(value: Any) -> tuple[Any, ...]:
    """The contents of an ``array.array`` or a NumPy array, compared by value."""
    if isinstance(value, array.array):
        return (value.typecode, value.tobytes())
    return (value.shape, str(value.dtype), value.tobytes() if value.dtype != object
            else id(value))


def _is_iterator(value: object) -> bool:
    """Whether ``value`` is an iterator or a generator (``next()`` advances it), not a
    container or a tensor.

    >>> import itertools
    >>> _is_iterator(itertools.count()), _is_iterator([1, 2]), _is_iterator(iter([1]))
    (True, False, True)
    """
    kind = type(value)
    return isinstance(value, (types.GeneratorType, types.AsyncGeneratorType,
                              types.CoroutineType)) or (
        hasattr(kind, "__next__") and hasattr(kind, "__iter__")
        and not isinstance(value, (torch.Tensor, nn.Module)))


def _same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point() or a.is_complex():
        return bool(torch.isclose(a, b, rtol=0, atol=0, equal_nan=True).all())
    return torch.equal(a, b)


class Snapshot:
    """Everything reachable from a model (and from the globals its code reads), recorded so
    that a later snapshot tells what a forward call changed.

    Args:
        net: the model. values: keep a copy of every tensor's values (needed in the earlier
            of two snapshots compared; the later one reads the tensors themselves).

    Attributes:
        entries: ``path -> fingerprint`` (a path reads like ``attribute 'stats'['calls']``).
        tensors: ``path -> (tensor, copy of its values or None)``.
        externals: ``id(tensor) -> path`` of the tensors reached from globals or through
            functions (closures, defaults: shared with the caller, not deep-copied).
        external_storages: the same by storage (a tracer may wrap such a tensor anew).
        complete: False when :data:`_MAX_OBJECTS` stopped the walk.
        iterators: ``(label, path, kind, where)`` of every iterator or generator reached
            (``itertools.count()``): its state cannot be read without advancing it, so a
            change a call makes to it cannot be seen (:func:`check_unchanged` refuses).
            A ``weakref.ref`` is followed to its target.

    >>> m = nn.Linear(2, 2); m.stats = {"calls": 0}
    >>> before = Snapshot(m); m.stats["calls"] += 1
    >>> before.changed(Snapshot(m))[0].what
    "attribute 'stats'['calls'] (0, now 1)"
    """

    def __init__(self, net: nn.Module, values: bool = True) -> None:
        self.values = values  # keep a copy of every tensor (a snapshot compared against)
        self.entries: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.tensors: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.externals: dict[int, str] = {}
        self.external_storages: dict[int, str] = {}
        self.wheres: dict[str, str | None] = {}
        self.complete = True
        self.iterators: list[tuple[str, str, str, str | None]] = []
        self._seen: set[int] = set()
        modules = {id(m) for m in net.modules()}
        roots = _module_roots(net) + _global_hooks() + _external_roots(net)
        for root in roots:
            self.wheres[root.label] = root.where
            if isinstance(root.value, nn.Module) and not root.external:
                self._seen.add(id(root.value))
                for key, value in vars(root.value).items():
                    if key in _SKIPPED_ATTRIBUTES:
                        continue
                    if key in ("_parameters", "_buffers"):
                        kind = "parameter" if key == "_parameters" else "buffer"
                        for k, v in value.items():
                            self._walk(root, f"{kind} {k!r}", v, modules)
                    elif key == "_modules":
                        for k, v in value.items():
                            self.entries[(root.label, f"submodule {k!r}")] = ("module", id(v))
                    elif key in _HOOKS:
                        self.entries[(root.label, f"{_HOOKS[key]}s")] = ("hooks", tuple(value))
                        for hook in value.values():
                            self._walk(root, f"{_HOOKS[key]} {_hook_name(hook)}", hook, modules)
                    else:
                        self._walk(root, f"attribute {key!r}", value, modules)
                self._walk_class(root, modules)
            else:
                self._walk(root, "", root.value, modules)

    def _walk_class(self, root: _Root, modules: set[int]) -> None:
        """The class attributes (not methods) of a module's own classes, outside torch:
        ``type(self).calls += 1`` is state kept across calls too."""
        for cls in type(root.value).__mro__:
            if cls.__module__.split(".")[0] in ("torch", "builtins", "convzoo"):
                continue
            for key, value in vars(cls).items():
                if key.startswith("__") or isinstance(value, (
                        types.FunctionType, property, staticmethod, classmethod)):
                    continue
                self._walk(root, f"class attribute {cls.__name__}.{key}", value, modules)

    def _walk(self, root: _Root, path: str, value: object, modules: set[int]) -> None:
        # shared: reached through a function (closure, defaults), which a deep copy of the
        # model does not copy: the user's own object, not the private copy's
        stack: list[tuple[str, object, bool]] = [(path, value, root.external)]
        while stack:
            path, value, shared = stack.pop()
            key = (root.label, path)
            leaf = _leaf(value)
            if leaf is not None:
                self.entries[key] = leaf
                continue
            if isinstance(value, weakref.ref) and id(value) not in self._seen:
                self._seen.add(id(value))  # followed: its target's state is state too
                target = value()
                self.entries[key] = ("weakref", None if target is None else id(target))
                if target is not None:
                    stack.append((f"{path}()", target, shared))
                continue
            if id(value) in self._seen or isinstance(value, _OPAQUE):
                self.entries[key] = ("object", id(value))
                continue
            if len(self._seen) >= _MAX_OBJECTS:
                self.complete = False
                self.entries[key] = ("object", id(value))
                continue
            self._seen.add(id(value))
            children: Iterable[tuple[str, object]] = ()
            inner_shared = shared
            if isinstance(value, torch.Tensor):
                plain = value.layout == torch.strided and not value.is_meta and \
                    type(value) in (torch.Tensor, nn.Parameter, nn.Buffer)
                keep = plain and self.values
                self.tensors[key] = (value, value.detach().clone() if keep else None)
                self.entries[key] = ("tensor", tuple(value.shape), value.dtype)
                extra = {k: v for k, v in getattr(value, "__dict__", {}).items()
                         if not k.startswith("_")}  # Python attributes set on the tensor
                stack.extend((f"{path}.{k}", v, shared) for k, v in extra.items())
                if shared:
                    said = (f"{root.label}{path}" if root.external
                            else f"module {root.label} {path}")
                    self.externals[id(value)] = said
                    if plain and value.numel():
                        self.external_storages[value.untyped_storage().data_ptr()] = said
                continue
            if isinstance(value, nn.Module):
                self.entries[key] = ("module", id(value))
                if id(value) not in modules:  # a module held outside the tree (a global)
                    own = {**value._parameters, **value._buffers, **{
                        k: v for k, v in vars(value).items() if k not in _SKIPPED_ATTRIBUTES
                        and k not in ("_parameters", "_buffers")}}
                    children = ((f"{path}.{k}", v) for k, v in own.items())
            elif isinstance(value, array.array) or _is_ndarray(value):
                self.entries[key] = ("buffer", type(value).__name__, _buffer_bytes(value))
            elif isinstance(value, (list, tuple, collections.deque)):
                self.entries[key] = ("sequence", type(value).__name__, len(value))
                children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
            elif isinstance(value, dict):
                keys = list(value.keys())
                self.entries[key] = ("mapping", type(value).__name__, len(keys),
                                     tuple(_short(k) for k in keys))
                items = dict.items(value)  # not an overridden __getitem__ (it may build things)
                children = [(f"{path}[{k!r}]", v) for k, v in items]
                children += [(f"{path}.{k}", v) for k, v in getattr(value, "__dict__", {}).items()]

            elif isinstance(value, (set, frozenset)):
                self.entries[key] = ("set", type(value).__name__,
                                     frozenset(_leaf(v) or ("object", id(v)) for v in value))
                children = [(f"{path}{{{id(v):#x}}}", v) for v in value if _leaf(v) is None]
            elif isinstance(value, functools.partial):
                self.entries[key] = ("partial", id(value))
                children = [(f"{path}.func", value.func), (f"{path}.args", value.args),
                            (f"{path}.keywords", value.keywords)]
            elif _is_iterator(value):
                self.entries[key] = ("iterator", type(value).__qualname__)
                if not root.label.startswith(("global ", "closure variable ")):
                    # held by the model (or a hook): refused. Reached through the globals
                    # or closures of code forward calls (library code: transformers'
                    # PreTrainedModel holds a generator there), not refused: a residual
                    self.iterators.append((root.label, path, type(value).__qualname__,
                                           self.wheres.get(root.label)))
            elif isinstance(value, types.MethodType):
                self.entries[key] = ("method", id(value.__func__))
                children = [(f"{path}.__self__", value.__self__)]
            elif isinstance(value, types.FunctionType):
                self.entries[key] = ("function", id(value))
                cells = []
                for name, cell in zip(value.__code__.co_freevars, value.__closure__ or ()):
                    try:
                        cells.append((f"{path} closure {name!r}", cell.cell_contents))
                    except ValueError:
                        continue
                children = [*cells, (f"{path}.__defaults__", value.__defaults__),
                            (f"{path}.__kwdefaults__", value.__kwdefaults__),
                            *((f"{path}.{k}", v) for k, v in vars(value).items()
                              if not k.startswith("__"))]
                inner_shared = True
            else:
                attrs = dict(vars(value)) if hasattr(value, "__dict__") else {}
                for cls in type(value).__mro__:
                    for slot in getattr(cls, "__slots__", ()):
                        if isinstance(slot, str) and slot not in ("__dict__", "__weakref__") \
                                and hasattr(value, slot):
                            attrs[slot] = getattr(value, slot)
                self.entries[key] = ("object", type(value).__qualname__, tuple(sorted(attrs)))
                children = ((f"{path}.{k}", v) for k, v in attrs.items())
            stack.extend((p, v, inner_shared) for p, v in reversed(list(children)))

    def changed(self, after: Snapshot) -> list[Change]:
        """What differs in ``after`` (a later snapshot of the same model), in walk order
        (roots first); empty when nothing changed."""
        found: list[Change] = []
        for key in dict.fromkeys([*after.entries, *self.entries]):  # in walk order
            old, new = self.entries.get(key), after.entries.get(key)
            label, path = key
            if key in self.tensors and key in after.tensors:
                (t0, c0), (t1, _) = self.tensors[key], after.tensors[key]
                if old == new and (c0 is None or _same_values(t1.detach(), c0)):
                    continue
                kind = "written in place" if t0 is t1 else "replaced"
                found.append(Change(self.wheres.get(label), f"{_named(label, path)} ({kind})"))
            elif old != new:
                found.append(Change(self.wheres.get(label),
                                    f"{_named(label, path)} ({_show(old)}, now {_show(new)})"))
        return found


@dataclasses.dataclass(frozen=True)
class Change:
    """One thing a forward call changed.

    Attributes:
        where: the described module whose state it is (None: a global or closure variable).
        what: the path and the change, e.g. ``attribute 'stats'['calls'] (0, now 1)``.
    """

    where: str | None
    what: str


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{type(value).__name__}"


def _show(fingerprint: tuple[Any, ...] | None) -> str:
    if fingerprint is None:
        return "absent"
    if fingerprint[0] == "value":
        return _short(fingerprint[2])
    if fingerprint[0] == "sequence":
        return f"a {fingerprint[1]} of {fingerprint[2]}"
    if fingerprint[0] == "mapping":
        return f"a {fingerprint[1]} of {fingerprint[2]} keys"
    if fingerprint[0] == "set":
        return f"a {fingerprint[1]} of {len(fingerprint[2])}"
    if fingerprint[0] == "hooks":
        return f"{len(fingerprint[1])} registered"
    if fingerprint[0] == "tensor":
        return f"a tensor of shape {fingerprint[1]}"
    if fingerprint[0] == "buffer":
        return f"an {fingerprint[1]} with other contents"
    if fingerprint[0] == "object" and isinstance(fingerprint[1], str):
        return f"a {fingerprint[1]}"
    return "another object"


def _named(label: str, path: str) -> str:
    """``attribute 'x'['k']`` for a module's own state (the module is named apart),
    ``global 'W' of module m[0]`` otherwise."""
    if label.startswith("'"):  # a described module: the module is said in the refusal
        return path
    return f"{label}{path}"


def check_unchanged(model: nn.Module, net: nn.Module, before: Snapshot, again: Any,
                    backend: str | None = None) -> None:
    """Refuse when the forward call just made on ``net`` changed anything reachable from
    it (``before`` was taken before that call). ``again()`` makes one more call, to tell
    state set on the first call only (a lazy set-up, which one warm-up call by the user
    settles) from state changed by every call."""
    if before.iterators:
        label, path, kind, where = before.iterators[0]
        raise refuse(model, f"forward can read {_named(label, path)}, an iterator ({kind}) "
                     "whose state cannot be read without advancing it, so a change a call "
                     "makes to it cannot be seen: keep it outside the model and pass what it "
                     "gives as an input", where, backend)
    changes = before.changed(Snapshot(net, values=False))
    if not changes:
        return
    after = Snapshot(net)
    again()
    first = changes[0]
    if not after.changed(Snapshot(net, values=False)):
        raise refuse(model, f"forward changes {first.what} on its first call only (a lazy "
                     "set-up, as some transformers models do): call the model once on an "
                     "input before optimize", first.where, backend)
    raise refuse(model, f"forward changes {first.what}: state kept across calls, which a "
                 "graph cannot carry", first.where, backend)


def _norm_hooks() -> tuple[tuple[type, str], ...]:
    from torch.nn.utils.spectral_norm import SpectralNorm
    from torch.nn.utils.weight_norm import WeightNorm

    return (WeightNorm, "weight_norm"), (SpectralNorm, "spectral_norm")


def hook_based_norm(model: nn.Module) -> tuple[str, str] | None:
    """``(described module, reason)`` for the first module carrying a hook-based
    ``weight_norm``/``spectral_norm`` (after a forward call its weight is a non-leaf tensor
    that no deep copy can take), or None."""
    for name, m in model.named_modules():
        for hook in m._forward_pre_hooks.values():
            for cls, fn in _norm_hooks():
                if isinstance(hook, cls):
                    return describe(name, m), (
                        f"uses the hook-based torch.nn.utils.{fn}, which cannot be copied; "
                        f"use torch.nn.utils.parametrizations.{fn} instead, or call "
                        f"torch.nn.utils.remove_{fn} on it before optimize")
    return None


def _quantization(m: nn.Module) -> bool:
    from torch.ao.quantization import FakeQuantizeBase, ObserverBase

    if isinstance(m, (FakeQuantizeBase, ObserverBase)):
        return True
    hooks = [*m._forward_hooks.values(), *m._forward_pre_hooks.values()]
    return any(getattr(h, "__name__", "").startswith("_observer_forward") for h in hooks)


def _hook_name(hook: object) -> str:
    return getattr(hook, "__qualname__", None) or type(hook).__name__


def check_structure(model: nn.Module, backend: str | None = None) -> None:
    """Refuse, before any forward runs, what would make a capture wrong (see the module
    docstring): a submodule in training mode inside an eval-mode model, torch.ao
    fake-quantization or observers (their forward hooks update statistics).

    >>> m = nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)).eval()
    >>> check_structure(m)
    >>> _ = m[1].train()
    >>> check_structure(m)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    convzoo.fast.refusal.Refusal: `model` (Sequential) cannot be optimized soundly: module '1' ...
    """
    for name, m in model.named_modules():
        where = describe(name, m)
        if _quantization(m):
            raise refuse(model, "torch.ao.quantization fake quantization or observer: it "
                         "rounds values to a quantization grid (a rewrite's float rounding "
                         "moves a value by a whole step) and updates its statistics in "
                         "forward; optimize the float model, or convert it with "
                         "torch.ao.quantization.convert", where, backend)
        if not model.training and m.training:
            raise refuse(model, "is in training mode inside an eval-mode model (BatchNorm "
                         "would use batch statistics and update its running statistics, "
                         "Dropout would drop): call .eval() on it, or on the whole model",
                         where, backend)
