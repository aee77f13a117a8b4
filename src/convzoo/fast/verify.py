"""Built-in verification: the optimized model against the original on fresh inputs.

The example input is what the graph was planned on; an error there says little about
other inputs. :func:`checks` runs the original on the example and on one fresh input per
regime (three for bf16; :mod:`convzoo.fast.regimes`: like the example, image-like 0-255
with zero regions, 1e4 and 1e-4 magnitudes, NaN and +-Inf), once; :func:`verify` runs a
result on the same inputs and refuses it, naming the input and the output leaf, unless
:func:`compare` passes on every one.

:func:`compare` compares any output structure leaf by leaf. A float leaf passes when
``max |optimized - original| <= rtol * max |original| + tiny`` (its own scale: a small
output gets a small bound; ``tiny`` is the dtype's smallest normal number, so an all-zero
output must stay zero), NaN at the same places as the original, infinities equal;
``rtol`` depends on the leaf's dtype (:data:`RTOL`): float64 1e-7, float32 1e-4, float16
1e-2, bfloat16 5e-2 (a few units in the last place of each format, since folding and fusing
reorder the sums); ``precision='bf16'`` uses at least :data:`BF16_RTOL`, and
:func:`verify` accepts a bf16 result only within :data:`BF16_MARGIN` of that bound (its
error is a large share of the bound, so a margin keeps unverified inputs within it).
Integer, boolean and non-tensor leaves must be equal, except Python floats (``.item()``),
held to the float32 bound.

bf16's bound is relative to the input regime's output scale, not to one input's output:
bfloat16's error follows the magnitude of the computation (the rounding of the weights
times the input level), while ``max |original leaf|`` at one input can be far smaller when
the leaf cancels (the mean of a conv), and it varies from input to input, so no margin on
a per-input bound carries over to inputs not verified. For ``precision='bf16'`` a float
leaf at an input of regime R is held to ``rtol * max(max |original leaf|, s_R) + tiny``
(plus the allowance below), where ``s_R`` (:func:`regime_scale`) is the lower median, over
:data:`BF16_INPUTS` fixed-seed fresh inputs of that regime, of the original's
``max |leaf|`` (the example belongs to ``like``). :func:`checks` then draws
:data:`BF16_INPUTS` inputs per regime (fp32: one) and :func:`verify` accepts the result
only if every one is within :data:`BF16_MARGIN` of that bound: with a denominator that does
not move from input to input, the verified share carries over to the regime's other
inputs.

The original's own rounding: on some inputs no float32 computation can meet that bound. A
saturating or normalizing model fed 1e4-magnitude values (``tanh`` of a large sum, a
LayerNorm after a large conv) turns the last-place rounding of its large intermediate
values into output errors above ``rtol * max |output|``; the original itself is that far
from exact arithmetic there. So when a leaf fails, the original is also run in float64 at
that input (:meth:`Check.noise`, once, only when needed) and the leaf passes if its error
is within the bound plus :data:`NOISE_FACTOR` times the original's own error
``max |original - original in float64|`` (:func:`rounding_noise`): the result may be as far
from the original as a few times the original is from exact. An error where the original
is exact (an FFT's rounding over a zero region of an image) gets no allowance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from convzoo.fast.refusal import Refusal
from convzoo.fast.regimes import Regime, regimes
from convzoo.functional.dispatch import native_only

__all__ = ["BF16_INPUTS", "BF16_MARGIN", "BF16_RTOL", "FP32_RTOL", "NOISE_FACTOR", "RTOL",
           "VERIFY_SEED", "Check", "Verified", "checks", "compare", "first_line",
           "fresh_input", "inputs_per_regime", "leaf_maxima", "max_error", "regime_scale",
           "regime_scales", "rounding_noise", "rtol_for", "scale", "verification_seed",
           "verify", "with_scales"]

FP32_RTOL = 1e-4  # pinned: |optimized - original| <= FP32_RTOL * max |original| (+ tiny)
BF16_RTOL = 5e-2  # pinned for precision='bf16' (8-bit mantissa), against the fp32 original
NOISE_FACTOR = 4.0  # pinned: allowance, in units of the original's own rounding error
BF16_MARGIN = 0.5  # pinned: a bf16 result is accepted within half its bound on every input
# verified, so that inputs of the same regimes it was not verified on stay within it
BF16_INPUTS = 3  # pinned: fresh inputs per regime verifying a bf16 result (and defining s_R)
VERIFY_SEED = 20261206  # pinned: the verification inputs' first seed is this + example.numel()
RTOL: dict[torch.dtype, float] = {  # pinned, per output dtype (resolution 2^-52 ... 2^-7)
    torch.float64: 1e-7, torch.float32: FP32_RTOL, torch.float16: 1e-2,
    torch.bfloat16: BF16_RTOL,
}


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an error's text, ANSI colour codes removed, shortened at
    a word boundary to at most ``limit`` characters (for one-line refusals).

    >>> first_line(RuntimeError("\\x1b[31mboom\\x1b[0m: bad\\nmore"))
    'boom: bad'
    >>> first_line(RuntimeError("word " * 100), limit=22)
    'word word word ...'
    """
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(exc))
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    if len(line) > limit:
        line = line[:limit - 4].rsplit(" ", 1)[0] + " ..."
    return line


def fresh_input(example: torch.Tensor, seed: int,
                shape: tuple[int, ...] | None = None) -> torch.Tensor:
    """A new random input of ``example``'s shape (or ``shape``), dtype, device and layout,
    not the example: the ``like`` regime of :func:`convzoo.fast.regimes.regimes` (floats:
    normal with the mean and standard deviation of the example's finite values; integers
    and booleans: uniform over the example's range).

    >>> x = torch.zeros(2, 3)
    >>> y = fresh_input(x, 0); y.shape, y.dtype, bool((y != x).any())
    (torch.Size([2, 3]), torch.float32, True)
    """
    return regimes(example, seed, shape)[0].input


def rounding_noise(ref: object, exact: object, path: str = "output") -> dict[str, float]:
    """``leaf path -> max |ref - exact|`` over the entries finite in both, for every float
    tensor leaf: the original's own rounding error at this input, ``exact`` being the
    original computed in float64.

    >>> rounding_noise((torch.tensor([1.0, 2.0]), 3), (torch.tensor([1.0, 2.5]), 3))
    {'output[0]': 0.5}
    """
    found: dict[str, float] = {}
    if isinstance(ref, torch.Tensor) and isinstance(exact, torch.Tensor):
        if ref.dtype.is_floating_point and ref.shape == exact.shape and ref.numel():
            a, b = ref.detach().double(), exact.detach().double()
            both = a.isfinite() & b.isfinite()
            if bool(both.any()):
                found[path] = (a - b).abs()[both].max().item()
    elif isinstance(ref, (tuple, list)) and isinstance(exact, (tuple, list)):
        for i, (r, e) in enumerate(zip(ref, exact)):
            found.update(rounding_noise(r, e, f"{path}[{i}]"))
    elif isinstance(ref, dict) and isinstance(exact, dict):
        for k in ref:
            if k in exact:
                found.update(rounding_noise(ref[k], exact[k], f"{path}[{k!r}]"))
    return found


def verification_seed(example: torch.Tensor) -> int:
    """The seed of the first verification input drawn for ``example``
    (:data:`VERIFY_SEED` + its number of entries; input ``k`` of a regime uses this + k).

    >>> verification_seed(torch.zeros(2, 3))
    20261212
    """
    return VERIFY_SEED + example.numel()


def inputs_per_regime(precision: str) -> int:
    """How many fresh inputs per regime verify a result: :data:`BF16_INPUTS` for
    ``'bf16'``, one for ``'fp32'``.

    >>> inputs_per_regime("fp32"), inputs_per_regime("bf16")
    (1, 3)
    """
    return BF16_INPUTS if precision == "bf16" else 1


def leaf_maxima(out: object, path: str = "output") -> dict[str, float]:
    """``leaf path -> max |entry|`` over the finite entries of every float tensor leaf (0.0
    for a leaf with none), paths named as :func:`compare` names them.

    >>> leaf_maxima({"y": torch.tensor([-3.0, float("nan")]), "n": 2})
    {"output['y']": 3.0}
    """
    found: dict[str, float] = {}
    if isinstance(out, torch.Tensor):
        if out.dtype.is_floating_point:
            values = out.detach().double()
            values = values[values.isfinite()]
            found[path] = values.abs().max().item() if values.numel() else 0.0
    elif isinstance(out, (tuple, list)):
        for i, r in enumerate(out):
            found.update(leaf_maxima(r, f"{path}[{i}]"))
    elif isinstance(out, dict):
        for k, r in out.items():
            found.update(leaf_maxima(r, f"{path}[{k!r}]"))
    return found


@dataclass
class Check:
    """One verification input and the original's output on it.

    Attributes:
        regime: the input and its name. reference: the original's output.
        exact: computes the original in float64 at this input (for :meth:`noise`), or None.
        scale: ``leaf path -> s_R``, the output scale of this input's regime
            (:func:`regime_scales`; a bf16 result's bound is relative to it), or None.
    """

    regime: Regime
    reference: object
    exact: Callable[[], object] | None = None
    scale: dict[str, float] | None = None
    _noise: dict[str, float] | None = None

    def noise(self) -> dict[str, float] | None:
        """The original's own rounding error per output leaf at this input (computed once,
        on first need), or None when no float64 original is available."""
        if self._noise is None and self.exact is not None:
            try:
                self._noise = rounding_noise(self.reference, self.exact())
            except Exception:  # noqa: BLE001 - a model that does not run in float64
                self.exact = None
        return self._noise


@dataclass(frozen=True)
class Verified:
    """What :func:`verify` measured.

    Attributes:
        example_error, fresh_error: max abs error at the example and at the fresh inputs
            drawn like it (``like``). tolerance: the larger of their two bounds.
        errors: ``regime -> (max abs error, bound)`` for every input checked (the largest
            of each, where a regime had several inputs).
    """

    example_error: float
    fresh_error: float
    tolerance: float
    errors: dict[str, tuple[float, float]]


def _run(model: Callable[[torch.Tensor], object], x: torch.Tensor) -> object:
    with torch.no_grad():
        return model(x)


def checks(original: Callable[[torch.Tensor], object], example: torch.Tensor,
           reference: object, seed: int,
           exact: Callable[[], Callable[[torch.Tensor], object]] | None = None,
           count: int = 1) -> list[Check]:
    """The example (with ``reference``, the original's output there) and ``count`` fresh
    inputs per regime (seeds ``seed``, ``seed + 1``, ...; one set of regimes per seed) with
    the original's output on each; an input the original itself raises on is left out
    (nothing to equal there). ``exact()`` gives the original in float64 (built only if a
    comparison needs it).

    >>> net = torch.nn.Linear(3, 2)
    >>> [c.regime.name for c in checks(net, torch.randn(4, 3), None, 0)]
    ['example', 'like', 'image', 'gray', 'large', 'small', 'nonfinite']
    >>> len(checks(net, torch.randn(4, 3), None, 0, count=3))
    19
    """
    def in_float64(x: torch.Tensor) -> Callable[[], object]:
        wide = x.detach().double().requires_grad_(x.requires_grad) \
            if x.dtype.is_floating_point else x  # as x: a forward may branch on it

        def run() -> object:
            with native_only():
                return _run(exact(), wide)  # type: ignore[misc]
        return run

    use = exact is not None and example.dtype in (torch.float32, torch.float16, torch.bfloat16)
    found = [Check(Regime("example", example), reference,
                   in_float64(example) if use else None)]
    for regime in [r for k in range(count) for r in regimes(example, seed + k)]:
        try:
            found.append(Check(regime, _run(original, regime.input),
                               in_float64(regime.input) if use else None))
        except Exception:  # noqa: BLE001 - an input the original refuses is not checked
            continue
    return found


def regime_scales(found: list[Check]) -> dict[str, dict[str, float]]:
    """``regime -> leaf path -> s_R``: for each regime of ``found`` (the example left out),
    the lower median over its inputs of the original's ``max |leaf|`` (:func:`leaf_maxima`);
    ``'example'`` gets ``'like'``'s (the example is drawn like itself).

    >>> net = torch.nn.Linear(3, 2)
    >>> s = regime_scales(checks(net, torch.randn(4, 3), None, 0, count=3))
    >>> sorted(s), s["example"] == s["like"], list(s["image"])
    (['example', 'gray', 'image', 'large', 'like', 'nonfinite', 'small'], True, ['output'])
    """
    maxima: dict[str, list[dict[str, float]]] = {}
    for check in found:
        if check.regime.name != "example":
            maxima.setdefault(check.regime.name, []).append(leaf_maxima(check.reference))
    scales: dict[str, dict[str, float]] = {}
    for name, seen in maxima.items():
        scales[name] = {}
        for path in dict.fromkeys(p for m in seen for p in m):
            values = sorted(m[path] for m in seen if path in m)
            scales[name][path] = values[(len(values) - 1) // 2]  # the lower median
    if "like" in scales:
        scales["example"] = scales["like"]
    return scales


def regime_scale(model: Callable[[torch.Tensor], object], example: torch.Tensor,
                 count: int = BF16_INPUTS) -> dict[str, dict[str, float]]:
    """The output scale ``s_R`` of every regime, the denominator of a bf16 result's bound:
    ``regime -> leaf path -> s_R``, where ``s_R`` is the lower median, over the ``count``
    fresh inputs of regime R that verification draws for ``example``
    (:func:`convzoo.fast.regimes.regimes` with seeds ``verification_seed(example) + k``,
    ``k < count``), of ``max |leaf|`` of ``model``'s output (finite entries; ``model``
    computed natively, as given: pass it in eval mode). ``'example'`` maps to ``'like'``'s.
    Leaf paths: ``'output'``, ``'output[0]'``, ``"output['key']"``, nested alike.

    >>> net = torch.nn.Linear(3, 2, bias=False).eval()
    >>> s = regime_scale(net, torch.randn(4, 3))
    >>> 1e3 * s["small"]["output"] < s["like"]["output"] < 1e-3 * s["large"]["output"]
    True
    """
    with native_only():
        found = checks(model, example, None, verification_seed(example), count=count)
    return regime_scales(found)


def with_scales(found: list[Check], scales: dict[str, dict[str, float]]) -> list[Check]:
    """``found`` with each check's :attr:`Check.scale` set to its regime's (``scales``:
    :func:`regime_scales`); returns ``found``."""
    for check in found:
        check.scale = scales.get(check.regime.name)
    return found


def verify(result: Callable[[torch.Tensor], object], found: list[Check], precision: str,
           head: str, hint: str = "") -> Verified:
    """Run ``result`` on every input of ``found`` and compare with the original's outputs
    (:func:`compare`; for ``precision='bf16'`` within :data:`BF16_MARGIN` of the bound
    relative to each check's regime scale, :attr:`Check.scale`).

    Raises:
        Refusal: ``{head} differs from the original on {input}: {leaf and how}; refusing the
            result{hint}`` (or ``fails to run on ...``), one line; ``hint`` says what to try
            about a difference.
    """
    errors: dict[str, tuple[float, float]] = {}
    for check in found:
        try:
            got = _run(result, check.regime.input)
        except Refusal:
            raise
        except Exception as exc:  # noqa: BLE001 - a rewrite that fails to run is refused
            raise Refusal(f"{head} fails to run on {check.regime.said}: "
                          f"{type(exc).__name__}: {first_line(exc)}; refusing the result (a "
                          "graph that cannot run: please report it, and use the original)") \
                from None
        margin = BF16_MARGIN if precision == "bf16" else 1.0
        scales = check.scale if precision == "bf16" else None
        err, tol, why = compare(got, check.reference, precision, margin=margin, scales=scales)
        if why is not None and check.noise() is not None:  # as close as the original itself?
            err, tol, why = compare(got, check.reference, precision, noise=check.noise(),
                                    margin=margin, scales=scales)
        if why is not None:
            raise Refusal(f"{head} differs from the original on {check.regime.said}: {why}; "
                          f"refusing the result{hint}")
        old = errors.get(check.regime.name, (0.0, 0.0))  # several inputs of a regime: worst
        errors[check.regime.name] = (max(old[0], err), max(old[1], tol))
    example, like = errors.get("example", (0.0, 0.0)), errors.get("like", (0.0, 0.0))
    return Verified(example[0], like[0], max(example[1], like[1]), errors)


def max_error(a: object, b: object) -> float:
    """``max |a - b|`` over two outputs of the same structure (tensors, tuples, lists,
    dicts); ``inf`` when the structures, shapes or non-tensor values differ.

    >>> max_error({"y": torch.ones(2)}, {"y": torch.zeros(2)}), max_error((1, 2), (1, 3))
    (1.0, inf)
    """
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.shape != b.shape:
            return float("inf")
        if a.numel() == 0:
            return 0.0
        if not a.dtype.is_floating_point and not b.dtype.is_floating_point:
            return 0.0 if torch.equal(a, b) else float("inf")
        return (a.double() - b.double()).abs().max().item()
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return float("inf")
        return max((max_error(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max((max_error(a[k], b[k]) for k in a), default=0.0)
    return 0.0 if a == b else float("inf")


def scale(reference: object) -> float:
    """``max(1, max |reference|)`` over every float tensor of an output.

    >>> scale((torch.tensor([-3.0, 2.0]), 7))
    3.0
    """
    if isinstance(reference, torch.Tensor):
        if reference.numel() and reference.dtype.is_floating_point:
            return max(1.0, reference.abs().max().item())
        return 1.0
    if isinstance(reference, (tuple, list)):
        return max((scale(r) for r in reference), default=1.0)
    if isinstance(reference, dict):
        return max((scale(r) for r in reference.values()), default=1.0)
    return 1.0


def rtol_for(dtype: torch.dtype, precision: str = "fp32") -> float:
    """The pinned relative tolerance for an output leaf of ``dtype``.

    >>> rtol_for(torch.float32), rtol_for(torch.float16), rtol_for(torch.float32, "bf16")
    (0.0001, 0.01, 0.05)
    """
    rtol = RTOL.get(dtype, FP32_RTOL)
    return max(rtol, BF16_RTOL) if precision == "bf16" else rtol


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} ({len(text)} characters)"


def compare(got: object, ref: object, precision: str = "fp32",
            path: str = "output", noise: dict[str, float] | None = None,
            margin: float = 1.0,
            scales: dict[str, float] | None = None) -> tuple[float, float, str | None]:
    """Compare an optimized output with the original's, leaf by leaf.

    Args:
        noise: ``leaf path -> the original's own rounding error`` there (see
            :func:`rounding_noise`); each float leaf's bound grows by :data:`NOISE_FACTOR`
            times it. None: no such allowance.
        margin: the share of the bound an error may use (:data:`BF16_MARGIN` when
            :func:`verify` checks a bfloat16 result).
        scales: ``leaf path -> s_R``, the input regime's output scale
            (:func:`regime_scale`): a float leaf's bound is ``rtol * max(max |original
            leaf|, s_R)`` (+ tiny, + the allowance). None: relative to the leaf alone (fp32).

    Returns:
        ``(max abs error, largest absolute bound, why)``: ``why`` is None when every leaf
        is within its bound, else one line naming the first leaf that differs and how.

    >>> compare((torch.ones(2), 3), (torch.ones(2), 4))[2]
    'output[1]: 3 where the original gives 4'
    >>> compare(torch.tensor([1e-5]), torch.tensor([2e-5]))[2]
    'output: max abs error 1e-05 > tolerance 2e-09 (rtol 0.0001 x max |original| 2e-05)'
    >>> compare(torch.tensor([0.02]), torch.tensor([0.0]), "bf16", scales={"output": 1.0})[2]
    >>> why = compare(torch.tensor([0.2]), torch.tensor([0.1]), "bf16", scales={"output": 1.0})[2]
    >>> why.split(" (rtol ")[1]
    "0.05 x the regime's output scale 1 (max |original| 0.1))"
    """
    if isinstance(ref, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return float("inf"), 0.0, f"{path}: {_short(got)} where the original gives a tensor"
        if got.shape != ref.shape:
            return float("inf"), 0.0, (f"{path}: shape {tuple(got.shape)} where the original "
                                       f"gives {tuple(ref.shape)}")
        if not ref.dtype.is_floating_point:
            same = got.shape == ref.shape and bool((got.to(ref.dtype) == ref).all())
            if got.dtype != ref.dtype or not same:
                n = int((got.to(ref.dtype) != ref).sum())
                return float("inf"), 0.0, (f"{path}: {n} of {ref.numel()} {ref.dtype} entries "
                                           "differ (integer/boolean outputs must be equal, e.g. "
                                           "an argmax flipped by rounding)")
            return 0.0, 0.0, None
        if ref.numel() == 0:
            return 0.0, 0.0, None
        a, b = got.detach().double(), ref.detach().double()
        nan_a, nan_b = a.isnan(), b.isnan()
        if not torch.equal(nan_a, nan_b):
            return float("inf"), 0.0, (f"{path}: NaN at {int(nan_a.sum())} entries where the "
                                       f"original has NaN at {int(nan_b.sum())}")
        a, b = a.masked_fill(nan_b, 0.0), b.masked_fill(nan_b, 0.0)
        inf_b = b.isinf()
        if not torch.equal(a[inf_b], b[inf_b]):
            return float("inf"), 0.0, f"{path}: infinities differ from the original's"
        a, b = a.masked_fill(inf_b, 0.0), b.masked_fill(inf_b, 0.0)
        rtol = rtol_for(ref.dtype, precision)
        top = b.abs().max().item()
        regime = (scales or {}).get(path, 0.0)
        own = (noise or {}).get(path, 0.0)
        bound = margin * (rtol * max(top, regime) + torch.finfo(ref.dtype).tiny
                          + NOISE_FACTOR * own)
        err = (a - b).abs().max().item()
        if not err <= bound:
            level = f"max |original| {top:.3g}" if regime <= top else \
                f"the regime's output scale {regime:.3g} (max |original| {top:.3g})"
            plus = f" + {NOISE_FACTOR:g} x the original's own rounding {own:.3g}" if own else ""
            part = f", x {margin:g}: the share a reduced precision may use" if margin != 1 \
                else ""
            return err, bound, (f"{path}: max abs error {err:.3g} > tolerance {bound:.3g} "
                                f"(rtol {rtol:g} x {level}{plus}{part})")
        return err, bound, None
    if isinstance(ref, (tuple, list)) or isinstance(ref, dict):
        kind = type(ref).__name__
        keys = list(ref.keys()) if isinstance(ref, dict) else list(range(len(ref)))
        same = isinstance(got, dict) and list(got.keys()) == keys if isinstance(ref, dict) \
            else isinstance(got, (tuple, list)) and len(got) == len(ref)
        if not same:
            return float("inf"), 0.0, (f"{path}: {_short(got)} where the original gives a "
                                       f"{kind} of {len(ref)}")
        err = bound = 0.0
        for k in keys:
            e, t, why = compare(got[k], ref[k], precision, f"{path}[{k!r}]" if isinstance(
                ref, dict) else f"{path}[{k}]", noise, margin, scales)
            if why is not None:
                return e, t, why
            err, bound = max(err, e), max(bound, t)
        return err, bound, None
    if isinstance(ref, float) and isinstance(got, float):  # e.g. ``.item()`` of a float32 sum
        rtol = rtol_for(torch.float32, precision)
        bound = rtol * abs(ref) + torch.finfo(torch.float32).tiny
        err = 0.0 if got == ref or (got != got and ref != ref) else abs(got - ref)
        if not err <= bound:
            return err, bound, (f"{path}: {got!r} where the original gives {ref!r} (a Python "
                                f"float, rtol {rtol:g})")
        return err, bound, None
    try:
        same = bool(got == ref)
    except Exception:  # noqa: BLE001 - an object whose == does not give a bool
        same = got is ref
    if not same:
        return float("inf"), 0.0, f"{path}: {_short(got)} where the original gives {_short(ref)}"
    return 0.0, 0.0, None
