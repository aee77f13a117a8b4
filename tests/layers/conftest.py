"""Parameters from the layer registry for the registry-wide checks (tests/layers/test_all_*.py).

A test asks for one of these arguments (names prefixed ``layer_`` so they never clash with
a test's own ``parametrize``) and is parametrized over the registry, so a newly
registered layer is checked without touching the tests:

- ``layer_case``: every example of every kind, ids ``<kind>-<index>`` (e.g. ``separable-0``);
- ``layer_spatial_case``: the examples whose input is 4-D or 5-D (those with a channels_last
  memory format);
- ``layer_first_case``: the first example of each kind (for the slow checks: ONNX, compile);
- ``layer_kind``: every registered kind once, id ``<kind>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn

from convzoo.layers import REGISTRY  # importing convzoo.layers registers every layer


@dataclass(frozen=True)
class LayerCase:
    """Example ``index`` of ``kind``: its input shape, and a fresh module on demand."""

    kind: str
    index: int
    shape: tuple[int, ...]

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.index}"

    def build(self) -> nn.Module:
        """A fresh instance in eval mode, so that BatchNorm uses its running statistics and
        the module is a deterministic function. Its parameters are drawn from a seeded RNG
        (the global one untouched): the same on every run and every xdist worker."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1000 + self.index)
            module, shape = REGISTRY[self.kind].examples()[self.index]
        assert tuple(shape) == self.shape, f"{self.id}: examples() is not deterministic"
        return module.eval()


def _cases() -> list[LayerCase]:
    return [
        LayerCase(kind, index, tuple(shape))
        for kind, entry in sorted(REGISTRY.items())
        for index, (_, shape) in enumerate(entry.examples())
    ]


def pytest_generate_tests(metafunc) -> None:
    cases = _cases()
    groups = {
        "layer_case": cases,
        "layer_spatial_case": [c for c in cases if len(c.shape) in (4, 5)],
        "layer_first_case": [c for c in cases if c.index == 0],
    }
    for name, values in groups.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values, ids=[c.id for c in values])
    if "layer_kind" in metafunc.fixturenames:
        kinds = sorted(REGISTRY)
        metafunc.parametrize("layer_kind", kinds, ids=kinds)


@pytest.fixture
def one_thread():
    """Intra-op parallelism off for the test, restored after. These tensors are tiny, and on
    a loaded machine (two xdist workers on two cores) the thread pool's synchronisation
    makes each op ~100x slower than running it on one thread; gradcheck runs thousands."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
