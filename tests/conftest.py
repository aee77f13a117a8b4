"""Test-suite set-up: the project's own hypothesis profile.

``torch.testing._internal.common_methods_invocations`` (PyTorch's op_db, used for its conv
sample inputs) registers and loads a hypothesis profile when imported, so it is imported
first and our profile is loaded after it.
"""

import logging
import os
import warnings

import pytest
import torch.testing._internal.common_methods_invocations  # noqa: F401  (see docstring)
from hypothesis import HealthCheck, settings

settings.register_profile(
    "convzoo",
    deadline=None,
    max_examples=100,
    derandomize=bool(os.environ.get("CI")),  # CI replays the same examples every run
    suppress_health_check=[
        HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
    ],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "convzoo"))


@pytest.fixture
def quiet_onnx():
    """The ONNX exporters (dynamo and TorchScript) warn about constant folding and
    torchvision, and log progress lines: silenced for the test, restored after."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logger.setLevel(level)
