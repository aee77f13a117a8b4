"""The independent re-attack on issue 18 (/work/notes/attack-18r.md): each reproducer pinned.

Each test is one case the re-attack found on main: a forward for which ``optimize`` was
silently wrong, crashed, or refused for a wrong reason.
"""

from __future__ import annotations

import importlib.util

import pytest
import torch
import torch.nn as nn

from convzoo.fast import Refusal, optimize
from convzoo.fast.verify import compare

needs_ort = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                               reason="onnxruntime is not installed")
needs_ov = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                              reason="openvino is not installed")
BACKENDS = ["torch", pytest.param("onnxruntime", marks=needs_ort),
            pytest.param("openvino", marks=needs_ov)]
X = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))


class _ExpandOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.c(x)
        return y[:1].expand(3, -1, -1, -1), y.mean((2, 3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_d25_grad_mode_call_with_an_expanded_output_among_several(backend: str) -> None:
    m = _ExpandOut().eval()
    fast = optimize(m, X, backend=backend)
    got = fast(X)  # grad mode: the default call
    with torch.no_grad():
        ref = m(X)
        assert compare(got, ref)[2] is None
        assert compare(fast(X), ref)[2] is None
    assert got[0].stride() == ref[0].stride()
    with pytest.raises(RuntimeError):
        got[1].sum().backward()
