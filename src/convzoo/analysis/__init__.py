"""convzoo.analysis: trace a model on meta tensors into a DAG of ops; summary, receptive field.

>>> import torch.nn as nn
>>> s = summary(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU()), (1, 3, 9, 9))
>>> s.totals.macs, receptive_field(nn.Conv2d(3, 8, 3, stride=2), (1, 3, 9, 9)).sizes
(3456, (3, 3))
"""

from convzoo.analysis.compare import COMPARE_CONVENTIONS, Comparison, ComparisonRow, compare
from convzoo.analysis.graph import CATEGORIES, Frame, Graph, Node
from convzoo.analysis.kinds import CONV_KINDS, MIXED, classify, conv_kind
from convzoo.analysis.profile import OUTSIDE, Profile, ProfileRow, profile
from convzoo.analysis.receptive import (
    EMPIRICAL_NOTE,
    EmpiricalField,
    NodeField,
    ReceptiveFieldResult,
    empirical_receptive_field,
    node_fields,
    receptive_field,
    receptive_field_of,
    spatial_dims,
)
from convzoo.analysis.summary import CONVENTIONS, Row, Summary, Totals, summarize, summary
from convzoo.analysis.trace import check_input_shape, normalize_inputs, trace
from convzoo.names import module_aliases

__all__ = [
    "CATEGORIES", "Frame", "Graph", "Node", "trace", "check_input_shape", "normalize_inputs",
    "CONV_KINDS", "MIXED", "classify", "conv_kind",
    "EMPIRICAL_NOTE", "EmpiricalField", "NodeField", "ReceptiveFieldResult",
    "empirical_receptive_field", "node_fields", "receptive_field", "receptive_field_of",
    "spatial_dims",
    "CONVENTIONS", "Row", "Summary", "Totals", "summarize", "summary",
    "COMPARE_CONVENTIONS", "Comparison", "ComparisonRow", "compare",
    "OUTSIDE", "Profile", "ProfileRow", "profile",
]

#: Names kept for one release (a warning names the new one).
__getattr__ = module_aliases("convzoo.analysis", {
    "Variant": ("ComparisonRow", lambda: ComparisonRow),
})
