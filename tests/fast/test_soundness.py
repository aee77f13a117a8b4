"""Regressions from the review of the graph-based optimize: each case ends exact on new
inputs or refused with a one-line ValueError naming the module and the reason."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from convzoo.fast import optimize
from convzoo.fast.verify import compare, rtol_for


def _sabotage(monkeypatch, factor: float) -> None:
    """Make the rewrites scale every relu output by ``factor`` (a wrong rewrite)."""
    import convzoo.fast.optimizer as opt

    def broken(gm):
        for node in list(gm.graph.nodes):
            if node.op == "call_function" and node.target is torch.ops.aten.relu.default:
                with gm.graph.inserting_after(node):
                    scaled = gm.graph.call_function(torch.ops.aten.mul.Tensor, (node, factor))
                node.replace_all_uses_with(scaled)
                scaled.args = (node, factor)
        gm.recompile()
        return 0

    monkeypatch.setattr(opt, "fold_shuffles", broken)


def test_tolerance_is_relative_to_the_output_scale(monkeypatch) -> None:
    # finding 4: outputs of size 1e-5 with a 50 % error used to pass an absolute 1e-4 bound
    _sabotage(monkeypatch, 1.5)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
    with torch.no_grad():
        model[3].weight.mul_(1e-5)
        model[3].bias.zero_()
    with pytest.raises(ValueError, match=r"^`model` \(Sequential\) optimized with "
                       r"backend='torch', precision='fp32' differs from the original on the "
                       r"example: output: max abs error [\d.e+-]+ > tolerance [\d.e+-]+ \(rtol "
                       r"0.0001 x max \|original\| [\d.e+-]+( \+ 4 x the original's own rounding "
                       r"[\d.e+-]+)?\); refusing the result \(the original repeats itself on "
                       r"the example, so a convzoo rewrite is wrong for this model: please "
                       r"report it, and use the original\)$"):
        optimize(model, torch.randn(1, 3, 8, 8))


def test_tolerance_per_output_leaf() -> None:
    # a small leaf next to a large one is held to its own scale
    ref = (torch.tensor([1000.0]), torch.tensor([1e-3]))
    err, _, why = compare((ref[0], torch.tensor([2e-3])), ref)
    assert why == ("output[1]: max abs error 0.001 > tolerance 1e-07 (rtol 0.0001 x max "
                   "|original| 0.001)")
    assert compare(ref, ref)[2] is None
    assert compare({"a": torch.zeros(3)}, {"a": torch.zeros(3)})[2] is None
    assert compare({"a": torch.full((3,), 1e-30)}, {"a": torch.zeros(3)})[2] is not None


def test_leaf_messages_name_the_leaf() -> None:
    # finding 15: "max abs error inf" said neither which output nor why
    assert compare({"k": torch.tensor([1, 2])}, {"k": torch.tensor([1, 3])})[2] == (
        "output['k']: 1 of 2 torch.int64 entries differ (integer/boolean outputs must be "
        "equal, e.g. an argmax flipped by rounding)")
    assert compare((torch.zeros(1), 0.5), (torch.zeros(1), 0.25))[2] == (
        "output[1]: 0.5 where the original gives 0.25 (a Python float, rtol 0.0001)")
    assert compare((torch.zeros(1), 2.1129415), (torch.zeros(1), 2.1129417))[2] is None
    assert compare(("a", 3), ("b", 3))[2] == "output[0]: 'a' where the original gives 'b'"
    assert compare(torch.zeros(2, 3), torch.zeros(3, 2))[2] == (
        "output: shape (2, 3) where the original gives (3, 2)")
    nan = torch.tensor([float("nan"), 1.0])
    assert compare(torch.tensor([0.0, 1.0]), nan)[2] == (
        "output: NaN at 0 entries where the original has NaN at 1")
    assert compare(nan.clone(), nan)[2] is None


def test_tolerance_depends_on_dtype() -> None:
    assert [rtol_for(d) for d in (torch.float64, torch.float32, torch.float16,
                                  torch.bfloat16)] == [1e-7, 1e-4, 1e-2, 5e-2]


@pytest.mark.parametrize("bn", [False, True])
def test_float16_model_accepted(bn: bool) -> None:
    # finding 12: fp16 models were refused by the fp32 tolerance
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)] if bn else [
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3)]
    model = nn.Sequential(*layers).half().eval()
    if bn:
        with torch.no_grad():
            model[1].running_var.uniform_(0.5, 2.0)
            model[1].running_mean.uniform_(-1.0, 1.0)
    fast = optimize(model, torch.randn(1, 3, 16, 16).half())
    for batch in (1, 2):
        x = torch.randn(batch, 3, 16, 16).half()
        with torch.no_grad():
            assert compare(fast(x), model(x))[2] is None


class _Counter(nn.Module):
    """State in a plain Python int: the output changes after a few calls."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.conv(x) * (2.0 if self.calls > 4 else 1.0)


class _Ema(nn.Module):
    """State in a plain tensor attribute written in place (not a buffer)."""

    def __init__(self, via_data: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.via_data = via_data
        self.ema = torch.zeros(1, 4, 1, 1)
        self.register_buffer("running", torch.zeros(1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.via_data:
            self.running.data.add_(y.mean((0, 2, 3), keepdim=True))
            return y - self.running
        self.ema.mul_(0.5).add_(0.5 * y.mean((0, 2, 3), keepdim=True))
        return y - self.ema


def test_plain_python_attribute_state_refused() -> None:
    # finding 2
    with pytest.raises(ValueError, match=r"^`model` \(_Counter\) cannot be optimized soundly "
                       r"with backend='torch': module '<root>' \(_Counter\): forward changes "
                       r"attribute 'calls' \(0, now 1\): state kept across calls, which a "
                       r"graph cannot carry$"):
        optimize(_Counter(), torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize(("via_data", "name"), [(False, "attribute 'ema'"),
                                                (True, "buffer 'running'")])
def test_in_place_tensor_attribute_state_refused(via_data: bool, name: str) -> None:
    # finding 14: used to surface as functionalization's "INTERNAL ASSERT FAILED", cut
    with pytest.raises(ValueError, match=rf"^`model` \(_Ema\) cannot be optimized soundly "
                       rf"with backend='torch': module '<root>' \(_Ema\): forward changes "
                       rf"{name} \(written in place\): state kept across calls, which a graph "
                       r"cannot carry$"):
        optimize(_Ema(via_data), torch.randn(1, 3, 8, 8))


class _Guarded(nn.Module):
    """A branch on tensor values inside the model's own try/except."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        try:
            if (y.abs() > 20).any():  # taken only for large inputs
                y = y / 100
        except Exception:  # noqa: BLE001 - the pattern under test
            pass
        return y


def test_swallowed_guard_error_refused() -> None:
    # finding 1: export's data-dependent guard error caught by the user's try/except
    with pytest.raises(ValueError, match=r"^`model` \(_Guarded\) cannot be optimized soundly "
                       r"with backend='torch': module '<root>' \(_Guarded\) line \d+: "
                       r"data-dependent control flow whose tracer error was caught by the "
                       r"model's own try/except \(the graph would hold one side of the "
                       r"branch\)$"):
        optimize(_Guarded(), torch.randn(1, 3, 8, 8))


class _Branch(nn.Module):
    def __init__(s) -> None:  # noqa: N805 - `self` under another name is the case tested
        super().__init__()
        s.conv = nn.Conv2d(3, 4, 3)

    def forward(s, x: torch.Tensor) -> torch.Tensor:  # noqa: N805
        y = s.conv(x)
        if y.mean() > 0:
            return y * 2
        return y


def test_refusal_names_the_line_of_the_model_code() -> None:
    # finding 16: the line pointed into torch/nn/modules/module.py
    import inspect

    lines, start = inspect.getsourcelines(_Branch.forward)
    line = start + next(i for i, text in enumerate(lines) if "if y.mean()" in text)
    with pytest.raises(ValueError, match=rf"module '<root>' \(_Branch\) line {line}: "
                       r"data-dependent control flow"):
        optimize(_Branch(), torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("fn", ["weight_norm", "spectral_norm"])
def test_hook_based_norm_names_module_and_fix(fn: str) -> None:
    # finding 13: the message was cut mid-word and named neither the module nor the fix
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        norm = getattr(torch.nn.utils, fn)
        model = nn.Sequential(nn.Conv2d(3, 4, 3), norm(nn.Conv2d(4, 4, 3)), nn.BatchNorm2d(4))
        model(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match=rf"^`model` \(Sequential\) cannot be optimized "
                       rf"soundly with backend='torch': module '1' \(Conv2d\): uses the "
                       rf"hook-based "
                       rf"torch.nn.utils.{fn}, which cannot be copied; use "
                       rf"torch.nn.utils.parametrizations.{fn} instead, or call "
                       rf"torch.nn.utils.remove_{fn} on it before optimize$"):
        optimize(model.eval(), torch.randn(1, 3, 8, 8))


class _WithCount(nn.Module):
    """A tensor and a Python int out: the ONNX exporter cannot convert the int."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return self.conv(x), x.shape[0]


def test_backend_failure_is_one_line_naming_the_backend() -> None:
    # finding 6: a multi-line ConversionError with ANSI codes escaped
    pytest.importorskip("onnxruntime")
    # exported with a dynamic batch, the int becomes a second ONNX output: refused
    with pytest.raises(ValueError, match=r"^`backend` \(='onnxruntime'\) cannot run `model` "
                       r"\(_WithCount\): ValueError: the onnxruntime graph returned 2 tensors, "
                       r"the model 1 \(a non-tensor output computed from the input, such as a "
                       r"size, becomes a tensor there\)$"):
        optimize(_WithCount(), torch.randn(1, 3, 8, 8), backend="onnxruntime")


def test_openvino_unsupported_op_is_one_line() -> None:
    # finding 7: padding_mode='circular' gave OpenVINO's raw 15-line error
    pytest.importorskip("openvino")
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular")).eval()
    with pytest.raises(ValueError, match=r"^`backend` \(='openvino'\) cannot run `model` "
                       r"\(Sequential\): RuntimeError: [^\n]*Unsupported padding mode"):
        optimize(model, torch.randn(1, 3, 8, 8), backend="openvino")


def test_auto_drops_failing_backends_and_says_why() -> None:
    pytest.importorskip("onnxruntime")
    model = _WithCount().eval()
    fast = optimize(model, torch.randn(1, 3, 8, 8), backend="auto")
    assert fast.report.backend == "torch"
    assert fast.report.dropped["onnxruntime"].startswith("ValueError: the onnxruntime graph")
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert compare(fast(x), model(x))[2] is None


def _shuffled() -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(4, 8, 1), nn.BatchNorm2d(8), nn.ReLU())
            self.b = nn.Conv2d(8, 8, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.a(x)
            n, c, h, w = y.shape
            y = y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
            return self.b(y)

    torch.manual_seed(0)
    return Net().eval()


def test_batch_zero() -> None:
    # finding 8: IndexError in the shuffle fold on an empty batch
    model = _shuffled()
    fast = optimize(model, torch.randn(2, 4, 6, 6))
    assert fast.report.folded_shuffles == 1
    for batch in (0, 3):
        x = torch.randn(batch, 4, 6, 6)
        with torch.no_grad():
            ref = model(x)
        assert compare(fast(x), ref)[2] is None and fast(x).shape == (batch, 8, 6, 6)


def test_in_place_on_output_in_grad_mode() -> None:
    # finding 10: outputs were views, so `.sigmoid_()` raised in grad mode
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    fast = optimize(model, torch.randn(1, 3, 8, 8))
    x = torch.randn(1, 3, 8, 8)
    got = fast(x).sigmoid_()
    with torch.no_grad():
        assert compare(got.detach(), model(x).sigmoid_())[2] is None
    with pytest.raises(RuntimeError, match="`Optimized` is inference-only: backward"):
        got.sum().backward()


class _Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


def test_output_aliasing_the_input_is_a_copy() -> None:
    x = torch.randn(1, 3, 4, 4)
    fast = optimize(_Identity(), x)
    a, b = fast(x)
    a.add_(1.0)
    assert torch.equal(b, x) and not x.requires_grad and torch.equal(a, x + 1)


class _Cast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.float())


def test_graph_cache_keyed_by_dtype() -> None:
    # finding 11: a float64 input of the example's shape reused the float32 graph
    model = _Cast().eval()
    fast = optimize(model, torch.randn(1, 3, 8, 8))
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        assert compare(fast(x), model(x))[2] is None


def test_copy_save_and_convert_say_why() -> None:
    # finding 9: "Cannot access storage of OpaqueTensorImpl" and NotImplementedError
    import copy
    import io

    fast = optimize(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval(), torch.randn(1, 3, 8, 8))
    copying = (r"^`Optimized` cannot be copied: {} is not supported \(it holds weights prepacked "
               r"for this machine's oneDNN\); use .save\('model.onnx'\) or .save\('model.xml'\) "
               r"for a deployable file, or copy or save the original model and call "
               r"convzoo.optimize again$")
    with pytest.raises(ValueError, match=copying.format(r"copy.deepcopy\(\)")):
        copy.deepcopy(fast)
    with pytest.raises(ValueError, match=copying.format(r"pickling \(torch.save\)")):
        torch.save(fast, io.BytesIO())
    with pytest.raises(ValueError, match=r"^`Optimized` is fixed to the dtype and device it "
                       r"was optimized for: .to\(\), .double\(\), .half\(\), .cuda\(\) and the "
                       r"like are not supported; convert the original model and call "
                       r"convzoo.optimize again$"):
        fast.double()


def test_training_flag_cannot_be_set() -> None:
    fast = optimize(nn.Sequential(nn.Conv2d(3, 4, 3)).eval(), torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"^`Optimized` is inference-only: training=True is "
                       r"not supported; use the original model$"):
        fast.training = True
    fast.training = False
    assert fast.training is False


class _NumpyGuard(nn.Module):
    """A tensor handed to NumPy inside the model's own try/except."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        try:
            if float(y.detach().numpy().max()) > 20:
                y = y / 100
        except Exception:  # noqa: BLE001 - the pattern under test
            pass
        return y


def test_swallowed_numpy_error_refused() -> None:
    with pytest.raises(ValueError, match=r"^`model` \(_NumpyGuard\) cannot be optimized "
                       r"soundly with backend='torch': module '<root>' \(_NumpyGuard\) line "
                       r"\d+: a tensor leaves torch \(.numpy\(\)\) inside the model's own "
                       r"try/except, which caught the tracer's error \(the graph would hold the "
                       r"fallback path only\)$"):
        optimize(_NumpyGuard(), torch.randn(1, 3, 8, 8))


def test_bf16_needs_float32() -> None:
    # a float64 model ran in float64 while the report said bf16
    from convzoo.fast.precision import bf16_flags

    if not bf16_flags():
        pytest.skip("no native bfloat16 on this CPU (check_precision refuses first)")
    model = nn.Sequential(nn.Conv2d(3, 4, 3)).double().eval()
    with pytest.raises(ValueError, match=r"^`precision` \(='bf16'\) needs a float32 "
                       r"`example_input` \(got torch.float64\): the bfloat16 rewrite converts "
                       r"float32 constants only; use precision='fp32'$"):
        optimize(model, torch.randn(1, 3, 8, 8, dtype=torch.float64), precision="bf16")
