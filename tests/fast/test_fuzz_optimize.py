"""Random graphs against ``optimize``: exact on fresh inputs of every regime, or refused.

Each example draws a graph (:mod:`fuzz_nets`), an example input (normal, image-like with a
zero band, 1e3 or 1e-3 magnitudes, one NaN) and one of every installed backend and
precision. ``optimize`` must either refuse it with a one-line :class:`Refusal` naming the
backend, or return a module that equals the original (computed natively; within the pinned
tolerance, plus the allowance for the original's own rounding) on fresh inputs of every
regime drawn with other seeds than the verification's, at another batch size (torch), with
fresh outputs laid out as the original's. bf16 results are judged by bf16's stated
contract, computed independently (:mod:`bf16_oracle`: the bound relative to the regime's
output scale ``s_R``, taken from :func:`convzoo.fast.verify.regime_scale`). Graphs holding
state or a submodule in training mode must be refused. 60 examples here; 1,000 in the slow
test (its last run is recorded in docs/testing.md; set ``CONVZOO_FUZZ_LOG`` to a file to
get the tally as JSON).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import warnings
from collections import Counter

import pytest
import torch
import torch.utils._pytree as pytree
from bf16_oracle import judge
from fuzz_nets import FuzzNet, cancelling_mean, example_for, recipes
from hypothesis import given, settings
from hypothesis import strategies as st

from convzoo.fast import optimize
from convzoo.fast.outputs import layable, same_strides
from convzoo.fast.precision import bf16_flags
from convzoo.fast.refusal import Refusal
from convzoo.fast.regimes import regimes
from convzoo.fast.verify import compare, regime_scale, rounding_noise
from convzoo.functional.dispatch import native_only


def _configs() -> list[tuple[str, str]]:
    import importlib.util

    backends = ["torch", *[b for b in ("onnxruntime", "openvino")
                           if importlib.util.find_spec(b) is not None], "auto"]
    precisions = ["fp32", "bf16"] if bf16_flags() else ["fp32"]
    return [(b, p) for b in backends for p in precisions
            if not (b == "onnxruntime" and p == "bf16")]


CONFIGS = _configs()
EXAMPLES = ("normal", "image", "large", "small", "some_nan")
TALLY: Counter = Counter()


def _equal(model: torch.nn.Module, fast: torch.nn.Module, x: torch.Tensor, precision: str,
           wide: list, scale: dict[str, float] | None = None) -> None:
    """``fast(x)`` equals the original's output (see the module docstring; bf16: within its
    stated bound, ``scale`` being the regime's output scales) and its tensors are fresh,
    plain under no_grad and laid out as the original's."""
    with torch.no_grad(), native_only():
        ref = model(x)
    with torch.no_grad():
        got = fast(x)

    def exact() -> object:
        if not wide:
            wide.append(copy.deepcopy(model).double())
        with torch.no_grad(), native_only():
            return wide[0](x.double())

    if precision == "bf16":
        why = judge(got, ref, scale)
        if why is not None and x.dtype == torch.float32:
            why = judge(got, ref, scale, exact())
    else:
        why = compare(got, ref, precision)[2]
        if why is not None and x.dtype == torch.float32:
            why = compare(got, ref, precision, noise=rounding_noise(ref, exact()))[2]
    assert why is None, why
    for g, r in zip(pytree.tree_leaves(got), pytree.tree_leaves(ref)):
        if isinstance(r, torch.Tensor):
            assert not g.requires_grad
            if layable(r.shape, tuple(r.stride())):
                assert same_strides(r.shape, tuple(g.stride()), tuple(r.stride())), \
                    (g.stride(), r.stride())


def _attack(recipe, backend: str, precision: str, kind: str, seed: int) -> str:
    model = FuzzNet(recipe)
    x = example_for(recipe, kind, seed)
    try:
        fast = optimize(model, x, backend=backend, precision=precision)
    except Refusal as exc:
        text = str(exc)
        assert "\n" not in text
        assert f"backend={backend!r}" in text or f"(={backend!r})" in text \
            or (backend == "auto" and "backend=" in text), text
        reason = text.split(": ", 1)[1][:60] if ": " in text else text[:60]
        return f"refused: {reason}"
    assert not recipe.must_refuse, f"accepted although it holds {recipe.must_refuse}"
    wide: list = []
    scales = regime_scale(model, x) if precision == "bf16" else {}
    for new_seed in (seed + 101, seed + 202):
        for regime in regimes(x, new_seed):
            _equal(model, fast, regime.input, precision, wide, scales.get(regime.name))
    out1 = fast(x.clone())
    with torch.no_grad():
        first = [t.clone() for t in pytree.tree_leaves(out1) if isinstance(t, torch.Tensor)]
        for t in pytree.tree_leaves(out1):
            if isinstance(t, torch.Tensor) and t.dtype.is_floating_point:
                t.add_(100)  # the caller's in-place change must not reach the next call
        again = [t for t in pytree.tree_leaves(fast(x.clone())) if isinstance(t, torch.Tensor)]
    assert all(torch.equal(a, b) or (a.isnan() == b.isnan()).all()
               and torch.equal(a.nan_to_num(), b.nan_to_num()) for a, b in zip(first, again))
    if fast.report.backend == "torch":
        other = regimes(torch.cat([x, x[:1]]), seed + 303)[0].input  # another batch size
        _equal(model, fast, other, precision, wide, scales.get("like"))
    if any(s.op == "global" for s in recipe.steps):
        assert any("GLOBAL_SCALE" in c for c in fast.report.constants), fast.report.constants
    if getattr(fast, "fallbacks", None):
        return f"exact: {fast.report.backend}, another batch size ran the original"
    return f"exact: {fast.report.backend}"


def _run(data) -> None:
    recipe = data.draw(recipes())
    backend, precision = data.draw(st.sampled_from(CONFIGS))
    kind = data.draw(st.sampled_from(EXAMPLES))
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = _attack(recipe, backend, precision, kind,
                              data.draw(st.integers(0, 10**6)))
    finally:
        logger.setLevel(level)
    TALLY[outcome] += 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_graphs_exact_or_refused(data) -> None:
    _run(data)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(st.data())
def test_random_graphs_exact_or_refused_1000(data) -> None:
    start = time.perf_counter()
    _run(data)
    TALLY["seconds"] += time.perf_counter() - start
    path = os.environ.get("CONVZOO_FUZZ_LOG")
    if path:
        with open(path, "w") as f:
            json.dump(dict(TALLY.most_common()), f, indent=1)


@pytest.mark.skipif(not bf16_flags(), reason="no native bfloat16 on this CPU")
def test_bf16_mean_of_a_cancelling_conv() -> None:
    """Found by the 1,000-example run (``backend='auto'``, which chose torch): bf16 on the
    mean of a 19x19 conv over a mostly zero image missed a bound relative to each input's
    own output (0.0080 > 0.0041 on the fresh seeds 202 and 303 of example seed 101)
    although verification passed. bf16's bound is now relative to the regime's output
    scale, verified on three inputs per regime: on an image-like input the mean's error is
    0.0181 against 0.0123 (half of 5e-2 x 0.494), so the torch result is refused at every
    example seed, and with ``'auto'`` (OpenVINO's bf16 result is refused too)."""
    for seed in (101, 202, 303, 404, 505):
        outcome = _attack(cancelling_mean(), "torch", "bf16", "normal", seed)
        assert outcome.startswith("refused: "), (seed, outcome)
    outcome = _attack(cancelling_mean(), "auto", "bf16", "normal", 101)
    assert outcome.startswith("refused: "), outcome
