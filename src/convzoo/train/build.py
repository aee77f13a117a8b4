"""Building the model for a data set: adapt the zoo config, then probe one batch.

The data set proposes config fields (``num_classes``, ``in_channels``, ``upscale_factor``...)
that are set when the model's config dataclass has them; the user's fields win. A forward pass
on two samples (eval mode, no gradients) then checks that the model takes the data set's input
and produces what the task needs; every failure is one line of ``ValueError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from convzoo.names import renamed_keys, renames_of
from convzoo.train.data.base import TaskData
from convzoo.train.tasks import Task

__all__ = ["model_config", "build_model", "probe", "current_names"]

ModelSpec = str | Callable[[], nn.Module]


def model_config(name: str, data: TaskData, overrides: dict[str, Any]) -> dict[str, Any]:
    """The full config of zoo model ``name`` for ``data`` (data's fields, then ``overrides``).

    >>> from convzoo.train.data import load_dataset
    >>> model_config("digits_separable", load_dataset("lfw_faces"), {"base_channels": 8}
    ...              )["num_classes"]
    2
    """
    from convzoo.models import entry

    e = entry(name)  # ValueError listing the zoo if unknown
    fields = {f.name for f in dataclasses.fields(e.config)}
    overrides = renamed_keys(overrides, renames_of(e.config))  # old names, with a warning
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown config field {', '.join(unknown)} for model {name!r} "
                         f"({e.config.__name__}); valid: {', '.join(sorted(fields)) or 'none'}")
    config = {k: v for k, v in data.model_config.items() if k in fields}
    config.update(overrides)
    return dataclasses.asdict(e.config(**config))


def current_names(meta: dict[str, Any]) -> dict[str, Any]:
    """A run's record (a checkpoint's ``meta``) in today's names: its zoo config rebuilt by
    the config dataclass (fields renamed since, and alias values such as ``upsampler='resize'``,
    read as now) and its data options under their loader's current names, so that a run
    saved before a rename resumes.

    >>> current_names({"model": "digits_separable", "model_config": {"width": 8},
    ...                "data": "digits", "data_config": {}})["model_config"]["base_channels"]
    8
    """
    import warnings

    from convzoo.models import MODELS
    from convzoo.train.data import DATASETS

    out = dict(meta)
    entry, config = MODELS.get(str(meta.get("model"))), meta.get("model_config")
    if entry is not None and isinstance(config, dict):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the record's names, not the user's
            try:
                out["model_config"] = dataclasses.asdict(entry.config(**config))
            except (TypeError, ValueError):
                pass  # a config that no longer builds: compared as stored, and refused
    loader = DATASETS.get(str(meta.get("data")), (None,))[0]
    renames = getattr(loader, "__renamed__", {})
    if isinstance(meta.get("data_config"), dict):
        out["data_config"] = {renames.get(k, k): v for k, v in meta["data_config"].items()}
    return out


def build_model(model: ModelSpec, data: TaskData, overrides: dict[str, Any]
                ) -> tuple[nn.Module, str, dict[str, Any]]:
    """``(module, name, config)`` for a zoo name or a no-argument factory.

    Raises:
        ValueError: unknown model or config field, invalid config value, or a factory that
            does not return an ``nn.Module``.
    """
    if isinstance(model, str):
        from convzoo.models import create

        config = model_config(model, data, overrides)
        return create(model, **config), model, config
    if not callable(model):
        raise ValueError(f"`model` (={model!r}) must be a zoo name or a function returning an "
                         "nn.Module")
    if overrides:
        raise ValueError("`model_config` applies to zoo models only, not to a factory "
                         f"(got {sorted(overrides)})")
    module = model()
    if not isinstance(module, nn.Module):
        raise ValueError(f"`model` factory returned {type(module).__name__}, not an nn.Module")
    return module, getattr(model, "__qualname__", repr(model)), {}


def _first_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {text[:200]}"


@torch.no_grad()
def probe(model: nn.Module, name: str, task: Task, data: TaskData) -> None:
    """Run two training samples through ``model``; ValueError if the input does not fit or the
    output is not what the task needs."""
    x, y = data.x_train[:2], data.y_train[:2]
    was = model.training
    model.eval()
    try:
        out = model(task.inputs(x))
    except Exception as e:  # noqa: BLE001 - any failure inside the model means a bad input
        shape = tuple(task.inputs(x).shape)
        raise ValueError(f"model {name!r} cannot take the input of data set {data.name!r} "
                         f"(shape {shape}): {_first_line(e)}") from None
    finally:
        model.train(was)
    want = task.expected_output(x, y)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"model {name!r} is incompatible with data set {data.name!r} "
                         f"({data.task}): it outputs {got}, the task needs "
                         f"{task.describe_output()} = {want}")
