"""Functional forms of convzoo's convolutions (torch tensors in, torch tensors out)."""

from convzoo.functional.conv import conv, conv_transpose, run_spec

__all__ = ["conv", "conv_transpose", "run_spec"]
