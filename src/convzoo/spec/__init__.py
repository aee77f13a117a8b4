"""ConvSpec: the one validated description of a convolution."""

from convzoo.spec.call import spec_from_call
from convzoo.spec.convspec import MAX_ELEMENTS, ConvSpec

__all__ = ["ConvSpec", "MAX_ELEMENTS", "spec_from_call"]
