"""One intra-op thread for the decompose tests: on a shared machine, two threads stall small
SVDs and convs by a scheduler quantum each (values do not depend on it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
