"""summary / receptive_field on user mistakes: one-line ValueErrors naming the layer, what
it expects and what it was given; ``partial=True`` keeps the traced part; the input forms
torchinfo users type (a tensor, a tuple of shapes or tensors, a dict of keyword inputs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.analysis import receptive_field, summary, trace


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 1))


class TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(1, 4, 1)

    def forward(self, x, mask):
        return self.a(x) * self.b(mask)


def _one_line(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and len(text) < 400
    return text


@pytest.mark.parametrize("fn", [summary, receptive_field])
def test_wrong_channel_count_names_the_layer_and_both_shapes(fn):
    with pytest.raises(ValueError) as info:
        fn(_net(), (1, 4, 32, 32))
    text = _one_line(info)
    assert "layer '0' (Conv2d), which expects input (N, 3, 2 spatial dims), given " \
        "(1, 4, 32, 32)" in text
    assert "partial=True" in text


def test_wrong_channel_count_of_a_bare_layer():
    with pytest.raises(ValueError) as info:
        summary(nn.Conv2d(3, 8, 3), (1, 4, 9, 9))
    assert "the model (Conv2d) expects input (N, 3, 2 spatial dims)" in _one_line(info)
    assert "given input (1, 4, 9, 9)" in str(info.value)


@pytest.mark.parametrize("fn", [summary, receptive_field])
def test_missing_batch_dim(fn):
    # PyTorch runs a Conv2d on (C, H, W) as an unbatched input; a summary of it is a mistake
    with pytest.raises(ValueError) as info:
        fn(_net(), (3, 32, 32))
    text = _one_line(info)
    assert "layer '0' (Conv2d)" in text and "given (3, 32, 32)" in text
    assert "without a batch dim" in text and "(1, 3, 32, 32)" in text


def test_linear_in_features_mismatch():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(ValueError) as info:
        summary(net, (1, 3, 5))
    assert "layer '1' (Linear), which expects input (..., 12), given (1, 15)" in _one_line(info)


def test_two_input_forward_given_one_shape():
    with pytest.raises(ValueError) as info:
        summary(TwoInputs(), (1, 3, 8, 8))
    text = _one_line(info)
    assert "missing 1 required positional argument: 'mask'" in text
    assert "a tuple of shapes or tensors, or a dict of keyword inputs" in text


@pytest.mark.parametrize("inputs", [
    [(1, 3, 8, 8), (1, 1, 8, 8)],
    ((1, 3, 8, 8), torch.zeros(1, 1, 8, 8)),
    {"x": (1, 3, 8, 8), "mask": torch.zeros(1, 1, 8, 8)},
])
def test_every_input_form_torchinfo_takes(inputs):
    s = summary(TwoInputs(), inputs)
    # both branches are counted: 4*8*8*(3*9) + 4*8*8*1
    assert s.totals.macs == 4 * 64 * 27 + 4 * 64 and not s.partial
    assert s.input_shape == (1, 3, 8, 8)
    rf = receptive_field(TwoInputs(), inputs)
    assert rf.sizes == (3, 3) and rf.exact  # measured in the first input


def test_a_tensor_input_is_accepted_and_never_printed():
    x = torch.arange(3 * 8 * 8, dtype=torch.float32).reshape(1, 3, 8, 8)
    assert summary(_net(), x).totals.macs == summary(_net(), (1, 3, 8, 8)).totals.macs
    with pytest.raises(ValueError) as info:
        summary(_net(), x[:, :2])
    text = _one_line(info)
    assert "Tensor of shape (1, 2, 8, 8)" not in text or "191." not in text
    assert "given (1, 2, 8, 8)" in text


def test_integer_token_inputs_keep_their_dtype():
    net = nn.Sequential(nn.Embedding(10, 4))
    graph = trace(net, torch.zeros(2, 5, dtype=torch.long))
    assert graph.nodes[-1].shape == (2, 5, 4) and not graph.partial


def test_partial_true_keeps_the_traced_part():
    s = summary(_net(), (1, 4, 32, 32), partial=True)
    assert s.partial and "layer '0' (Conv2d)" in s.reason and s.totals.macs == 0
    rf = receptive_field(_net(), (3, 32, 32), partial=True)
    assert not rf.partial  # no strictness asked: PyTorch's unbatched conv runs


def test_bad_input_forms_raise_without_numbers():
    with pytest.raises(ValueError, match=r"as a dict must map forward's argument names"):
        summary(_net(), {})
    with pytest.raises(ValueError, match=r"`input_shape` \(='1x3'\) must be a sequence"):
        summary(_net(), "1x3")


def test_one_size_guard_for_summary_layers_and_specs():
    import convzoo.layers as L
    from convzoo.arithmetic import set_max_elements

    with pytest.raises(ValueError, match=r"the input of shape \(1, 3, 1000000000, 1000000000\) "
                       r"would have 3000000000000000000 elements, more than the limit"):
        summary(_net(), (1, 3, 10**9, 10**9))
    set_max_elements(1000)
    try:
        with pytest.raises(ValueError, match=r"the weight of shape \(64, 64, 3, 3\) .* more "
                           r"than the limit of 1000"):
            L.Conv2d(64, 64, 3)
        with pytest.raises(ValueError, match=r"the input of shape \(1, 3, 32, 32\)"):
            summary(_net(), (1, 3, 32, 32))
    finally:
        set_max_elements(None)
    assert summary(_net(), (1, 3, 32, 32)).totals.params == 3 * 8 * 9 + 8 + 8 * 4 + 4
