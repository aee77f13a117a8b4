"""Did-you-mean for every name a user types into the Python API and the playground: misspelled
keyword options of ``convzoo.create`` / ``convzoo.models.create``, the playground's parameters
(also under the long names docs/names.md gives the concept), paddings; and a suggestion is
always the current word, never a deprecated alias or an old name (attack D2, D4, D6, D9, D13)."""

from __future__ import annotations

import re
import warnings

import pytest

import convzoo
from convzoo import ConvSpec, models
from convzoo import arithmetic as ar
from convzoo.arithmetic.variants import variant_among
from convzoo.serve.api import conv_api
from convzoo.viz.sections import section


def _message(make) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a suggestion is made before any old name warns
        with pytest.raises(ValueError) as exc:
            make()
    return str(exc.value)


@pytest.mark.parametrize(("make", "suggested"), [
    (lambda: convzoo.create("conv", in_channels=3, out_channels=3, kernal_size=3),
     "kernel_size"),
    (lambda: convzoo.create("resize_conv", in_channels=3, out_channels=3, scale_factr=2),
     "upscale_factor"),  # nearest is the old name scale_factor: the new one is suggested
    (lambda: models.create("mobilenet_v2", width_mul=0.5), "width_mult"),
    (lambda: models.create("mobilenet_v1", alph=0.5), "width_mult"),  # old name alpha
    (lambda: conv_api({"kind": "conv", "kernel_size": "3"}), "k"),
    (lambda: conv_api({"kind": "conv", "strid": "2"}), "s"),
    (lambda: conv_api({"kind": "conv", "groups": "2"}), "g"),
    (lambda: conv_api({"kind": "subpixel", "upscale_factor": "2"}), "factor"),
    (lambda: conv_api({"kind": "conv", "frame": "2"}), "frames"),
    (lambda: ConvSpec(3, 4, 3, padding="smae"), "same"),
    (lambda: convzoo.create("conv", in_channels=3, out_channels=4, kernel_size=3,
                            padding="Vaild"), "valid"),
    (lambda: ar.variant("r2+1d"), "r2plus1d"),
    (lambda: ar.variant("gruoped"), "group"),
    (lambda: convzoo.create("gruoped", in_channels=4, out_channels=4, kernel_size=3), "group"),
    (lambda: section("gruoped"), "group"),
    (lambda: variant_among("sub-pixl", ("transposed", "subpixel"), "upsampler"), "subpixel"),
])
def test_the_closest_current_name_is_suggested(make, suggested):
    found = re.findall(r"did you mean '([^']*)'\?", _message(make))
    assert found == [suggested]


def test_old_names_are_never_suggested():
    """Every alias of the vocabulary, one letter off, suggests a word of the vocabulary."""
    for alias in ar.ALIASES:
        typo = alias[:-1] + ("x" if alias[-1] != "x" else "y")
        if len(alias) < 6 or alias[:-1] in ar.ALIASES:
            continue
        message = _message(lambda t=typo: ar.variant(t))
        match = re.search(r"did you mean '([^']*)'\?", message)
        if match:
            assert match.group(1) in ar.variant_names(), (alias, message)
