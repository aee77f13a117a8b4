"""The values the playground offers for each setting: only those the arithmetic accepts.

As in Edward Z. Yang's convolution visualizer, the page offers for each setting
(kernel_size, stride, padding, dilation, groups, channels, output_padding, upscale_factor or
downscale_factor) only the values that give a valid convolution with the other settings as
they are, so a learner explores the space without meeting an error first. What is valid is
not written a second time: each candidate is run through the same checks and arithmetic as a
request (:func:`convzoo.viz.animate.sketch`: :func:`~convzoo.viz.animate.options.normalize`,
ConvSpec, the output-size formulas; nothing is drawn), and the request itself stays the
authority (a combination can still be refused, e.g. after the input size changed, with
convzoo's one-line error).

>>> c = choices_api({"kind": "conv", "input": "5x5", "k": "3"})["choices"]
>>> c["k"][:3], c["k"][-1], c["s"][:3], c["p"][:5]
(['1', '2', '3'], '5', ['1', '2', '3'], ['same', 'valid', 'full', '0', '1'])
>>> choices_api({"kind": "group", "in": "6", "out": "4"})["choices"]["g"]
['1', '2']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CANDIDATES", "choices_api"]

_SMALL = tuple(range(1, 17))
#: Per query parameter, the values tried (each offered only when valid); the API accepts
#: more (up to 64 per axis and channel), which the URL can still ask for.
CANDIDATES: dict[str, tuple[Any, ...]] = {
    "in": (*_SMALL, 24, 32, 48, 64), "out": (*_SMALL, 24, 32, 48, 64),
    "g": (*_SMALL, 24, 32, 48, 64), "factor": tuple(range(1, 9)),
    "k": _SMALL, "s": _SMALL, "d": _SMALL, "op": tuple(range(0, 16)),
    "p": ("same", "valid", "full", "causal", *range(0, 17)),
}


def _valid(kind: str, options: dict[str, Any]) -> bool:
    from convzoo.viz.animate import sketch

    try:
        sketch(kind, **options)
    except ValueError:
        return False
    return True


def choices_api(params: Mapping[str, str]) -> dict[str, Any]:
    """For each setting ``kind`` takes, the candidate values (as query strings) that are valid
    with the other settings of ``params`` as they are; ``valid`` says whether ``params`` itself
    is. A setting left empty uses the kind's default."""
    from convzoo.serve.api import PARAMETERS, _options
    from convzoo.viz.animate import DEFAULTS
    from convzoo.viz.animate.options import factor_name, normalize

    kind = str(params.get("kind", "conv")).strip() or "conv"
    v, _ = normalize(kind, {}, 2)  # the kind (or its alias), with the list when unknown
    options = _options({k: val for k, val in params.items() if k not in ("kind", "frames")},
                       v.value)
    takes = DEFAULTS[v.value]
    out: dict[str, list[str]] = {}
    for key, values in CANDIDATES.items():
        name = factor_name(v.value) if key == "factor" else PARAMETERS[key]
        if name not in takes:
            continue
        out[key] = [str(c) for c in values if _valid(v.value, {**options, name: c})]
    return {"kind": v.value, "choices": out, "valid": _valid(v.value, options)}
