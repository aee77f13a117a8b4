"""The tour's numbers: the issue's examples, torch running the articles' code, claim checks."""

import pytest
import torch
from rich.console import Console
from tests.torch_oracle import NN_CONV, NN_CONV_T

from convzoo.cli.tour import render
from convzoo.tour import ARITHMETIC_EXAMPLES, LAYER_EXAMPLES, evaluate
from convzoo.tour.examples import LayerExample


def _torch_module(spec):
    """The nn.ConvNd the article writes (all seed examples use symmetric padding)."""
    pads = spec.resolved_padding()
    assert all(lo == hi for lo, hi in pads)
    padding = tuple(lo for lo, _ in pads)
    if spec.transposed:
        return NN_CONV_T[spec.ndim](
            spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, padding,
            spec.output_padding, spec.groups, spec.bias, spec.dilation, device="meta",
        )
    return NN_CONV[spec.ndim](
        spec.in_channels, spec.out_channels, spec.kernel_size, spec.stride, padding,
        spec.dilation, spec.groups, spec.bias, device="meta",
    )


def test_every_example_matches_torch_running_the_articles_code():
    for ex in LAYER_EXAMPLES:
        result = evaluate(ex)
        x = torch.empty(ex.input_shape, device="meta")
        params = 0
        for stage in ex.stages:
            if stage.spec is not None:
                m = _torch_module(stage.spec)
                params += sum(p.numel() for p in m.parameters())
                x = m(x)
        assert tuple(x.shape) == result.output_shape, ex.title
        assert params == result.params, ex.title


def test_the_issue_examples():
    by_title = {ex.title: evaluate(ex) for ex in LAYER_EXAMPLES}
    r = by_title["12x12x3 input, 256 5x5x3 filters"]
    assert r.output_shape == (1, 256, 8, 8) and r.params == 19456 and r.macs == 1228800
    assert by_title["standard conv 3->4, 3x3, no bias"].params == 108
    sep = by_title["depthwise-separable 3->4, 3x3, no bias (27 + 12)"]
    assert sep.params == 39 and sep.param_formulas[0].endswith("= 27")
    assert sep.param_formulas[1].endswith("= 12") and sep.baseline_params == 108
    arith = {a.title: a.result() for a in ARITHMETIC_EXAMPLES}
    assert arith["5x5 input, k=2, s=2, p=1"][0] == 3


def test_claims_agree_except_the_two_known_article_errors():
    wrong = [ex.title for ex in LAYER_EXAMPLES if not evaluate(ex).agrees]
    wrong += [a.title for a in ARITHMETIC_EXAMPLES if not a.result()[2]]
    assert wrong == [
        "ConvTranspose2d 16->3, 3x3, s=2, p=1 (as written)",
        "transposed conv on 16x16, k=3, s=2, p=1",
    ]


def test_every_seed_and_variant_is_covered():
    assert {ex.seed for ex in LAYER_EXAMPLES} == {"000", "001", "002", "003", "004"}
    variants = {ex.variant for ex in LAYER_EXAMPLES}
    assert {"conv", "conv3d", "transposed", "dilated", "separable", "flattened",
            "group", "shuffle_group", "pointwise", "depthwise"} <= variants


def test_render_prints_formulas_and_a_verdict(capsys):
    console = Console(width=250, force_terminal=False)
    checked, disagree = render(console)
    out = capsys.readouterr().out
    assert (checked, disagree) == (19, 1)
    assert "256*(3/1)*5*5 + 256 = 19456" in out
    assert "floor((5 + 1 + 1 - 1*(2-1) - 1) / 2) + 1 = 3" in out
    assert "\x1b" not in out
    assert "1 is wrong in the article" in out


def test_a_restated_claim_names_a_layer_example_that_checks_the_same_claim():
    titles = {ex.title: ex for ex in LAYER_EXAMPLES}
    restated = [a for a in ARITHMETIC_EXAMPLES if a.restates is not None]
    assert restated
    for a in restated:
        ex = titles[a.restates]
        assert ex.seed == a.seed and ex.claimed_shape is not None
        assert a.claimed == ex.claimed_shape[-1] and a.result()[0] == evaluate(ex).output_shape[-1]


def test_every_examples_variant_is_a_name_of_the_one_vocabulary():
    from convzoo.arithmetic import variant

    for ex in LAYER_EXAMPLES:
        assert variant(ex.variant).value == ex.variant  # canonical, never an alias
    ex = LayerExample("001", "t", "grouped", (1, 4, 8, 8), ())
    assert ex.variant == "group"
    with pytest.raises(ValueError, match=r"^`variant` \(='seperable'\) is not a variant name; "
                                         r"did you mean 'separable'\?"):
        LayerExample("001", "t", "seperable", (1, 4, 8, 8), ())
