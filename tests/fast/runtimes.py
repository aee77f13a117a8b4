"""Skip markers for the tests that need a runtime: one definition for every test file."""

from __future__ import annotations

import importlib.util

import pytest

__all__ = ["needs_ort", "needs_ov"]

needs_ort = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                               reason="onnxruntime is not installed")
needs_ov = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                              reason="openvino is not installed")
