"""Pure integer convolution arithmetic: the single source of truth for every number.

Imports no torch. Output sizes (forward and transposed), padding resolution, solvers,
costs (params, MACs, FLOPs, bytes, intensity) and receptive-field algebra.
"""

from convzoo.arithmetic.cost import (
    DTYPE_BYTES,
    ConvCost,
    arithmetic_intensity,
    bytes_moved,
    conv_bias_adds,
    conv_cost,
    conv_macs,
    conv_macs_formula,
    conv_params,
    conv_params_formula,
    conv_weight_count,
    dtype_bytes,
    flops,
)
from convzoo.arithmetic.limits import (
    DEFAULT_MAX_ELEMENTS,
    check_elements,
    max_elements,
    memory_bytes,
    set_max_elements,
)
from convzoo.arithmetic.padding import (
    PADDING_MODES,
    PADDING_STRINGS,
    needs_input_size,
    parse_padding,
    resolve_padding,
    resolve_transposed_padding,
    same_padding,
    transposed_same_padding,
)
from convzoo.arithmetic.pads import PAD_MODES, pad_taps
from convzoo.arithmetic.rearrange import (
    nearest_upsample_shape,
    pixel_shuffle_shape,
    pixel_unshuffle_shape,
)
from convzoo.arithmetic.receptive import (
    ReceptiveField,
    RFLayer,
    adaptive_rf_layer,
    as_number,
    chain,
    compose,
    conv_axis_rf_layers,
    conv_rf_layer,
    interpolate_rf_layer,
    largest,
    pixel_shuffle_rf_layer,
    pixel_unshuffle_rf_layer,
    transposed_rf_layers,
)
from convzoo.arithmetic.reindex import (
    flip_taps,
    group_taps,
    region_indices,
    roll_taps,
    shuffle_taps,
    tile_taps,
    window_taps,
    write_spans,
)
from convzoo.arithmetic.shape import (
    Pair,
    as_pair,
    conv_output_formula,
    conv_output_size,
    conv_transpose_output_formula,
    conv_transpose_output_size,
    effective_kernel,
    output_spatial_shape,
    zero_insertion_padding,
)
from convzoo.arithmetic.solve import (
    PaddingSolution,
    TransposeInverse,
    inverse_transpose,
    solve_output_padding,
    solve_padding,
    transposed_output_range,
)
from convzoo.arithmetic.spans import (
    INTERPOLATE_MODES,
    Span,
    Taps,
    adaptive_taps,
    broadcast_spans,
    compose_spans,
    concat_spans,
    conv_taps,
    identity_spans,
    interpolate_taps,
    pixel_shuffle_taps,
    pixel_unshuffle_taps,
    slice_taps,
    transposed_taps,
    union_span,
    union_spans,
)
from convzoo.arithmetic.strided import Layout, Located, locate
from convzoo.arithmetic.tuples import broadcast_single, check_int, is_int, to_tuple
from convzoo.arithmetic.variants import (
    ALIASES,
    Variant,
    resolve_alias,
    variant,
    variant_names,
)

__all__ = [
    "DTYPE_BYTES", "ConvCost", "arithmetic_intensity", "bytes_moved", "conv_bias_adds",
    "conv_cost", "conv_macs", "conv_macs_formula", "conv_params", "conv_params_formula",
    "conv_weight_count", "dtype_bytes", "flops",
    "PADDING_MODES", "PADDING_STRINGS", "needs_input_size", "parse_padding",
    "resolve_padding", "same_padding", "transposed_same_padding", "resolve_transposed_padding",
    "ReceptiveField", "RFLayer", "chain", "compose", "conv_rf_layer", "largest",
    "pixel_shuffle_rf_layer", "pixel_unshuffle_rf_layer", "transposed_rf_layers",
    "adaptive_rf_layer", "as_number", "conv_axis_rf_layers", "interpolate_rf_layer",
    "INTERPOLATE_MODES", "PAD_MODES", "Span", "Taps", "adaptive_taps", "broadcast_spans",
    "compose_spans", "concat_spans", "conv_taps", "identity_spans", "interpolate_taps",
    "pad_taps", "pixel_shuffle_taps", "pixel_unshuffle_taps", "slice_taps", "transposed_taps",
    "union_span", "union_spans",
    "flip_taps", "group_taps", "region_indices", "roll_taps", "shuffle_taps", "tile_taps",
    "window_taps",
    "write_spans", "Layout", "Located", "locate",
    "Pair", "as_pair", "conv_output_formula", "conv_output_size",
    "conv_transpose_output_formula", "conv_transpose_output_size", "effective_kernel",
    "zero_insertion_padding",
    "output_spatial_shape", "pixel_shuffle_shape", "pixel_unshuffle_shape",
    "nearest_upsample_shape",
    "PaddingSolution", "TransposeInverse", "inverse_transpose", "solve_output_padding",
    "solve_padding", "transposed_output_range",
    "broadcast_single", "check_int", "is_int", "to_tuple",
    "ALIASES", "Variant", "resolve_alias", "variant", "variant_names",
    "DEFAULT_MAX_ELEMENTS", "check_elements", "max_elements", "memory_bytes", "set_max_elements",
]
