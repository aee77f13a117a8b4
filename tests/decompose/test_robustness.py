"""Reproducers from the attack on issue 20 (/work/notes/attack-20.md), pinned: the user's model
is never modified, budgets are never silently dropped, bad inputs are one-line errors, convs
whose module is not just its kernel are never reported exact when they are not."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
import torch.nn as nn

from convzoo.decomposition import advise, decompose


def _bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1))


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                    reason="onnxruntime not installed")
@pytest.mark.parametrize("call", ["advise", "decompose"])
def test_onnxruntime_timing_keeps_the_models_modes(call: str) -> None:
    """D29/D30: latency.runner put the user's model in eval mode and never restored it."""
    net = _bn_net().train()
    net[1].eval()  # a mixed-mode model comes back mixed
    before = [m.training for m in net.modules()]
    x = torch.randn(2, 3, 8, 8)
    if call == "advise":
        advise(net, x, budget=0.5, repeats=1, backend="onnxruntime", methods=("tucker",))
    else:
        decompose(net, x, "tucker", rank=2, repeats=1, backend="onnxruntime")
    assert [m.training for m in net.modules()] == before


def test_unmet_latency_budget_is_warned_and_noted() -> None:
    """B13: `_choose` passed notes=[] to latency_plan and dropped its "cannot be met" note."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    with pytest.warns(UserWarning, match=r"the latency budget \(30%\) cannot be met"):
        _, rep = decompose(net, torch.randn(1, 4, 8, 8), "auto", budget=0.3, by="latency",
                           repeats=1)
    assert any(n.startswith("the latency budget (30%) cannot be met") for n in rep.notes)
    assert any("the latency budget" in line for line in str(rep).splitlines())


def _small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))


@pytest.mark.parametrize(("call", "kwargs", "message"), [
    ("decompose", {"example_input": (1, -3, 8, 8)},  # D14: was torch's RuntimeError
     "`example_input` (=(1, -3, 8, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("advise", {"example_input": (1, 3, 8.7, 8)},  # D15: was silently truncated to 8
     "`example_input` (=(1, 3, 8.7, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("decompose", {"example_input": (1, 3, True, 8)},
     "`example_input` (=(1, 3, 1, 8)) must be a tensor or a shape (N, C, *spatial) of "
     "positive ints"),
    ("decompose", {"layers": []},  # D20: "succeeded" doing nothing
     "`layers` (=[]) must name conv modules of the model (at least one); valid: 0, 2"),
])
def test_bad_shapes_and_layers(call: str, kwargs: dict, message: str) -> None:
    args = {"example_input": torch.randn(1, 3, 8, 8), "repeats": 0, **kwargs}
    with pytest.raises(ValueError) as e:
        if call == "advise":
            advise(_small(), **args)
        else:
            decompose(_small(), method="svd", rank=2, **args)
    assert str(e.value) == message


def _nan(x: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    x = x.clone()
    x.view(-1)[5] = value
    return x


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_inputs_and_weights_are_one_line_errors(value: float) -> None:
    """D25/D26/D27: a LinAlgError traceback (data, weight) or a report of inf errors (example)."""
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError) as e:  # D25
        advise(_small(), x, data=_nan(torch.randn(4, 3, 8, 8), value), repeats=0)
    assert str(e.value) == ("`data` (shape (4, 3, 8, 8)) holds NaN or Inf: every value must "
                            "be finite")
    with pytest.raises(ValueError) as e:
        decompose(_small(), x, "svd", rank=2, repeats=0,
                  data=[torch.randn(2, 3, 8, 8), _nan(torch.randn(2, 3, 8, 8), value)])
    assert str(e.value) == ("`data` (batch 1, shape (2, 3, 8, 8)) holds NaN or Inf: every "
                            "value must be finite")
    with pytest.raises(ValueError) as e:  # D26
        decompose(_small(), _nan(x, value), "auto", budget=0.5, repeats=0)
    assert str(e.value) == ("`example_input` (shape (2, 3, 8, 8)) holds NaN or Inf: every "
                            "value must be finite")
    net = _small()
    with torch.no_grad():
        net[2].weight[0, 0, 0, 0] = value
    with pytest.raises(ValueError) as e:  # D27
        decompose(net, x, "tucker", rank=2, repeats=0)
    assert str(e.value) == ("`model` conv '2' holds NaN or Inf in its weight: every value "
                            "must be finite")


def test_model_giving_inf_on_a_finite_example_is_an_error() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3))
    with torch.no_grad():
        net[0].weight.fill_(1e30)
    with pytest.raises(ValueError, match=r"^`model` \(Sequential\) gives NaN or Inf on "):
        decompose(net, torch.full((1, 3, 8, 8), 1e30), "svd", rank=2, repeats=0)


def test_cli_nan_data_is_one_line_exit_2(tmp_path, capsys) -> None:  # F22
    from convzoo.cli.main import main

    (tmp_path / "net.py").write_text(
        "import torch.nn as nn\n"
        "def make():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), "
        "nn.Conv2d(8, 8, 3, padding=1))\n")
    torch.save([_nan(torch.randn(2, 3, 8, 8))], tmp_path / "nan.pt")
    rc = main(["decompose", f"{tmp_path / 'net.py'}:make", "--input", "1,3,8,8", "--method",
               "svd", "--rank", "2", "--repeats", "0", "--data", str(tmp_path / "nan.pt")])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == ("convzoo: error: `data` (shape (2, 3, 8, 8)) holds NaN or Inf: every value "
                   "must be finite")


class _WSConv(nn.Conv2d):
    """Weight standardization (BiT, NFNet, ViT-hybrid): the kernel applied is not `weight`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return nn.functional.conv2d(x, w, self.bias, self.stride, self.padding)


def _old_weight_norm(conv: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(conv)


def _not_just_a_kernel() -> list[tuple[str, nn.Module, str]]:
    return [
        ("ws", _WSConv(3, 8, 3, padding=1, dtype=torch.float64),  # D36
         "forward overridden (_WSConv.forward): the kernel it applies is not its weight; "
         "left alone"),
        ("weight_norm", _old_weight_norm(nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64)),
         "forward hooks (WeightNorm; e.g. torch.nn.utils.weight_norm / spectral_norm)"),  # D46
        ("spectral_norm", nn.utils.spectral_norm(nn.Conv2d(3, 8, 3, padding=1)).double(),
         "forward hooks (SpectralNorm; e.g. torch.nn.utils.weight_norm / spectral_norm)"),  # D48
        ("spectral_norm64",
         nn.utils.spectral_norm(nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64)),  # D54
         "forward hooks (SpectralNorm; e.g. torch.nn.utils.weight_norm / spectral_norm)"),
    ]


@pytest.mark.parametrize("case", range(4))
def test_conv_that_is_not_its_kernel_is_left_alone_with_the_reason(case: int) -> None:
    """D36/D46/D48/D54: decomposed from the raw weight (report: exact, model: 90% off), or a
    crash in deepcopy (old weight_norm) or in float32 replacements (spectral_norm .double())."""
    name, odd, reason = _not_just_a_kernel()[case]
    torch.manual_seed(0)
    net = nn.Sequential(odd, nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, dtype=torch.float64)).eval()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    want = net(x)
    with pytest.warns(UserWarning, match="cost more MACs"):  # full rank: exact, not cheap
        new, rep = decompose(net, x, "svd", repeats=0)
    assert [r.status for r in rep.layers] == ["skipped", "decomposed"], name
    assert rep.layers[0].reason.startswith(reason), rep.layers[0].reason
    assert torch.allclose(new(x), want, rtol=1e-9, atol=1e-9)
    assert rep.output_error < 1e-9


def test_bit_weight_standardized_convs_are_left_alone() -> None:
    """E04: transformers BiT's WeightStandardizedConv2d was decomposed from its raw weight."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BitConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                 num_groups=2, num_labels=3)
    torch.manual_seed(0)
    m = transformers.BitForImageClassification(cfg).eval().double()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # full rank costs more MACs: expected
        new, rep = decompose(m, x, "svd", repeats=0)
    assert (new(x).logits - m(x).logits).abs().max() < 1e-9
    assert rep.output_error < 1e-9
    odd = [r for r in rep.layers if r.reason.startswith("forward overridden")]
    assert odd and all(r.status == "skipped" for r in odd)


def _conv_macs(model: nn.Module, x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(x)
    return sum(v for op, v in fc.get_flop_counts()["Global"].items()
               if "convolution" in str(op)) // 2


class _TwoSizes(nn.Module):  # B03: one conv called at 16x16 and again at 8x8
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.body = nn.Conv2d(16, 16, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(torch.relu(self.stem(x)))
        return self.body(nn.functional.avg_pool2d(torch.relu(x), 2))


class _Tied(nn.Module):  # B04: one conv under two attribute names
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(8, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 8, 3, padding=1)
        self.b = self.a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(self.stem(x))))


class _InSequential(nn.Module):  # B05: a conv in a Sequential and called directly
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(8, 8, 3, padding=1)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.seq = nn.Sequential(self.conv, nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.seq(self.stem(x)))


@pytest.mark.parametrize(("make", "shape", "reason"), [
    (_TwoSizes, (1, 3, 16, 16), "called at 2 input sizes ((16, 16, 16), (16, 8, 8)) per "
     "forward pass: the MACs differ per call; left alone"),
    (_Tied, (1, 8, 12, 12), "shared module (also reachable as 'b'): replaced under one name "
     "it would break the tie and leave the other calls dense; left alone"),
    (_InSequential, (1, 8, 12, 12), "shared module (also reachable as 'seq.0'): replaced under "
     "one name it would break the tie and leave the other calls dense; left alone"),
])
def test_shared_or_resized_conv_is_left_alone_and_counts_match_torch(make, shape, reason) -> None:
    """B03/B04/B05: the report's MACs were first-call MACs x calls, or one name of a shared
    conv was replaced (tie broken, the other calls dense): budget 0.5 gave 0.67-0.71."""
    torch.manual_seed(0)
    net, x = make(), torch.randn(shape)
    shared = [n for n, m in net.named_modules() if m is getattr(net, "body", None)
              or m is getattr(net, "a", None) or m is getattr(net, "conv", None)][0]
    new, rep = decompose(net, x, "tucker", budget=0.9, repeats=0)
    rows = {r.name: r for r in rep.layers}
    assert rows[shared].status == "skipped"
    assert rows[shared].reason == reason
    assert rep.conv_macs_before == _conv_macs(net, x)
    assert rep.conv_macs_after == _conv_macs(new, x)
    assert rep.conv_macs_after <= 0.9 * rep.conv_macs_before


def test_replacement_exposes_the_convs_hyperparameters() -> None:
    from convzoo.decomposition.replacement import HYPERPARAMETERS

    torch.manual_seed(0)
    conv = nn.Conv2d(6, 10, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                     padding_mode="reflect", dtype=torch.float64)
    for method in ("separable", "tucker", "svd"):
        new, _ = decompose(nn.Sequential(conv), torch.randn(1, 6, 12, 12, dtype=torch.float64),
                           method, rank=2, repeats=0)
        for name in HYPERPARAMETERS:
            assert getattr(new[0], name) == getattr(conv, name), (method, name)
        assert new[0].weight.dtype == torch.float64 and new[0].weight.device == conv.weight.device


def _vit_and_mobilenet() -> list[nn.Module]:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    vit = transformers.ViTModel(transformers.ViTConfig(
        image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32))
    mobile = transformers.MobileNetV2Model(transformers.MobileNetV2Config(
        image_size=32, depth_multiplier=0.35))
    return [vit.eval(), mobile.eval()]


@pytest.mark.parametrize("which", [0, 1])
def test_transformers_models_reading_conv_attributes(which: int) -> None:
    """E02/E03/E08: ViT reads projection.weight.dtype, MobileNetV2's apply_tf_padding reads
    conv.stride: an AttributeError from the plain nn.Sequential replacement."""
    model = _vit_and_mobilenet()[which]
    x = torch.randn(1, 3, 32, 32)
    new, rep = decompose(model, x, "svd", rank=4, repeats=0)  # E02 / E03
    assert any(r.status == "decomposed" for r in rep.layers)
    assert new(x).last_hidden_state.shape == model(x).last_hidden_state.shape
    advice = advise(model, x, budget=0.7, repeats=0)  # E08
    assert advice.plan() is not None


def test_cli_out_of_a_class_defined_in_the_model_file_is_refused_before_work(
        tmp_path, capsys) -> None:
    """F01: PicklingError traceback from torch.save after the whole run."""
    from convzoo.cli.main import main

    (tmp_path / "own.py").write_text(
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.c1 = nn.Conv2d(3, 16, 3, padding=1)\n"
        "    def forward(self, x):\n"
        "        return self.c1(x)\n"
        "def make():\n"
        "    return Net()\n")
    out = tmp_path / "new.pt"
    rc = main(["decompose", f"{tmp_path / 'own.py'}:make", "--input", "1,3,16,16", "--method",
               "tucker", "--rank", "4", "--repeats", "0", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and not out.exists()
    assert err == (f"convzoo: error: `--out` (={str(out)!r}) cannot hold this model: its class "
                   "Net is defined in the MODEL file itself, which torch.load cannot import "
                   "later; move it into a module importable where the file will be loaded "
                   "(e.g. on PYTHONPATH), import it in the factory, and rerun")


@pytest.mark.parametrize("command", ["decompose", "advise"])
def test_cli_takes_a_torch_saved_model_with_no_weights_only(tmp_path, capsys,
                                                           command: str) -> None:
    """F02: the refusal pointed to `convzoo optimize --no-weights-only`, a flag of another
    command."""
    from convzoo.cli.main import main

    path = tmp_path / "m.pt"
    torch.save(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3)), path)
    extra = ["--method", "svd", "--rank", "2"] if command == "decompose" else []
    args = [command, str(path), "--input", "1,3,8,8", "--repeats", "0", "--json", *extra]
    assert main(args) == 2
    assert "`--no-weights-only` (convzoo optimize, decompose, advise) loads it" in \
        capsys.readouterr().err
    assert main([*args, "--no-weights-only"]) == 0
