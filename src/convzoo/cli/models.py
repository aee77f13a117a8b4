"""Resolving the ``MODEL`` argument of ``convzoo summary / rf / profile``.

Accepted forms:

* ``path/to/file.py:factory``: the file is imported and ``factory()`` is called with no
  arguments (its folder first on ``sys.path`` meanwhile, so that both can import modules
  beside it); it must return an ``nn.Module``.
* a file saved with ``torch.save(model, path)`` (a whole module): loaded with
  ``torch.load(path, weights_only=True)`` unless the caller says otherwise. torch refuses to
  unpickle a module that way (unpickling a module runs code stored in the file), so such a
  file needs ``weights_only=False``, which only ``--no-weights-only`` (``convzoo optimize``,
  ``decompose``, ``advise``) passes: an explicit choice, for files one trusts. A file holding
  a ``state_dict`` is refused with a pointer to the ``file.py:factory`` form.
* a zoo name such as ``resnet50``: ``convzoo.models.create(name)``.

torch and the zoo are imported when a model is loaded, not with this module (``convzoo
--help`` and the arithmetic commands stay fast).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    import torch.nn as nn

__all__ = ["load_model", "FORMS", "weights_only_argument", "check_savable"]

#: The module-name prefix a ``file.py:factory`` file is imported under (not importable later).
_PRIVATE = "_convzoo_model_"

#: The forms of MODEL, as listed in every error message.
FORMS = ("path/to/file.py:factory (a function in that file returning an nn.Module), a file "
         "saved with torch.save(model, path), or a zoo name")


def _error(text: str, why: str) -> ValueError:
    return ValueError(f"MODEL (={text!r}) {why}; accepted forms: {FORMS}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _from_file(text: str, path_text: str, factory: str) -> nn.Module:
    import torch.nn as nn

    path = Path(path_text)
    if not path.is_file():
        raise _error(text, f"names a file that does not exist: {path_text}")
    if not factory.isidentifier():
        raise _error(text, f"has a factory name that is not a Python identifier: {factory!r}")
    name = f"{_PRIVATE}{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _error(text, "could not be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # while the file and its factory run: modules beside it import
    try:
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - any failure of user code becomes one line
            raise _error(text, f"failed to import: {_first_line(e)}") from None
        fn = getattr(module, factory, None)
        if fn is None or not callable(fn):
            raise _error(text, f"has no function {factory!r} in {path_text}")
        try:
            model = fn()
        except Exception as e:  # noqa: BLE001
            raise _error(text, f"factory {factory}() failed: {_first_line(e)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    if not isinstance(model, nn.Module):
        raise _error(text, f"factory {factory}() returned {type(model).__name__}, not an "
                     "nn.Module")
    return model


def _from_torch_save(text: str, path: Path, weights_only: bool) -> nn.Module:
    import pickle

    import torch
    import torch.nn as nn

    try:
        obj = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as e:
        if weights_only:
            raise _error(text, "is a pickled module: torch.load(weights_only=True) refuses to "
                         "unpickle it, since unpickling runs code stored in the file; if you "
                         "trust the file, `--no-weights-only` (convzoo optimize, decompose, "
                         "advise) loads it (weights_only=False)") from None
        raise _error(text, f"could not be unpickled: {_first_line(e)}") from None
    except Exception as e:  # noqa: BLE001 - not a torch.save file, a missing class, ...
        raise _error(text, f"could not be loaded with torch.load: {_first_line(e)}") from None
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict):
        raise _error(text, "holds a dict (a state_dict or a checkpoint), not a module: save "
                     "the whole module with torch.save(model, path), or build it in code "
                     "(path/to/file.py:factory) and load the weights there")
    raise _error(text, f"holds a {type(obj).__name__}, not an nn.Module")


def load_model(text: str, weights_only: bool = True) -> nn.Module:
    """Build the model that ``MODEL`` names; ValueError (one line, listing the forms) if not.
    ``weights_only``: passed to ``torch.load`` for a file saved with ``torch.save`` (False
    unpickles a whole module, running code stored in the file: for trusted files only).

    >>> load_model("nowhere.py:make")
    Traceback (most recent call last):
    ...
    ValueError: MODEL (='nowhere.py:make') names a file that does not exist: nowhere.py; \
accepted forms: path/to/file.py:factory (a function in that file returning an nn.Module), \
a file saved with torch.save(model, path), or a zoo name
    """
    text = str(text).strip()
    if ":" in text:
        path_text, _, factory = text.rpartition(":")
        if not path_text.endswith(".py"):
            raise _error(text, "must name a .py file before the ':'")
        return _from_file(text, path_text, factory)
    if text.endswith(".py"):
        raise _error(text, "needs ':factory' after the file name")
    if Path(text).is_file():
        return _from_torch_save(text, Path(text), weights_only)
    from convzoo import models

    try:
        return models.create(text)
    except ValueError as e:
        raise _error(text, f"is not a zoo model: {_first_line(e)}") from None


def weights_only_argument(p: argparse.ArgumentParser) -> None:
    """``--no-weights-only``: load a ``torch.save``'d whole module (a trusted file)."""
    p.add_argument("--no-weights-only", action="store_true",
                   help="load a MODEL file saved with torch.save(model) using "
                   "torch.load(weights_only=False). Without it, files are loaded with "
                   "weights_only=True, which refuses whole modules. Unpickling a module runs "
                   "code stored in the file: use only for files you trust")


def check_savable(model: object, out: str) -> None:
    """A one-line ValueError, before any work, if ``torch.save`` of a model built by ``model``'s
    classes could not be loaded back: a class defined in a ``file.py:factory`` file itself
    (imported under a private name, which no later ``torch.load`` can import)."""
    import torch.nn as nn

    if not isinstance(model, nn.Module):
        return
    for m in model.modules():
        cls = type(m)
        if cls.__module__.startswith(_PRIVATE):
            raise ValueError(
                f"`--out` (={out!r}) cannot hold this model: its class {cls.__qualname__} is "
                "defined in the MODEL file itself, which torch.load cannot import later; move "
                "it into a module importable where the file will be loaded (e.g. on "
                "PYTHONPATH), import it in the factory, and rerun")
