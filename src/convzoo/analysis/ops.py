"""The one table of aten op names the analysis knows: the tracer's categories
(:func:`category`) and the groups the receptive-field rules dispatch on.

An op name is the overload packet's name (``'convolution'``, ``'add'``); an in-place or
``out=`` variant (``'relu_'``) is looked up by its base name (``'relu'``).
"""

from __future__ import annotations

__all__ = [
    "ACTIVATIONS", "NORMS", "MERGES", "POOLS", "ADAPTIVE_POOLS", "UPSAMPLES", "PADS", "REDUCTIONS",
    "SOFTMAXES", "VIEWS", "MATMULS", "ATTENTION", "ELEMENTWISE", "RESHAPES", "PASS_THROUGH",
    "NO_DEPENDENCY", "SPLITS", "INDEXED_READS", "SCATTERS", "REINDEX", "REINDEXING", "WRITE",
    "base_name", "category",
]

ACTIVATIONS = frozenset({
    "relu", "relu6", "gelu", "silu", "hardswish", "sigmoid", "tanh", "leaky_relu", "elu",
    "hardtanh", "hardsigmoid", "mish", "softplus", "prelu", "_prelu_kernel", "rrelu", "celu",
    "selu", "glu", "softmax", "_softmax", "log_softmax", "_log_softmax", "threshold",
    "hardshrink", "softshrink", "log_sigmoid_forward", "sgn", "sign", "logit", "_safe_softmax",
})
NORMS = frozenset({
    "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "native_layer_norm", "native_group_norm", "_batch_norm_with_update",
    "_batch_norm_no_update", "batch_norm", "instance_norm", "rms_norm", "_fused_rms_norm",
})
#: Ops combining several tensors position by position (or by concatenation).
MERGES = frozenset({"add", "sub", "mul", "div", "cat", "stack", "maximum", "minimum", "where",
                    "rsub"})
POOLS = frozenset({
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool2d_with_indices",
    "max_pool3d_with_indices", "max_pool1d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "lp_pool1d", "lp_pool2d",
})
ADAPTIVE_POOLS = frozenset({
    "_adaptive_avg_pool1d", "_adaptive_avg_pool2d", "_adaptive_avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
})
UPSAMPLES = frozenset({
    "upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d",
    "_upsample_nearest_exact1d", "_upsample_nearest_exact2d", "_upsample_nearest_exact3d",
    "upsample_linear1d", "upsample_bilinear2d", "upsample_trilinear3d", "upsample_bicubic2d",
    "_upsample_bilinear2d_aa", "_upsample_bicubic2d_aa",
})
PADS = frozenset({
    "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular",
})
REDUCTIONS = frozenset({
    "mean", "sum", "amax", "amin", "max", "min", "var", "std", "var_mean", "logsumexp",
    "linalg_vector_norm", "norm", "prod", "std_mean", "argmax", "argmin",
})
#: Softmax-like activations: they mix the positions along their ``dim``.
SOFTMAXES = frozenset({"softmax", "_softmax", "log_softmax", "_log_softmax", "_safe_softmax"})
#: Reshapes: the element order is kept (row-major), the dims are regrouped.
RESHAPES = frozenset({
    "view", "_unsafe_view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
    "_reshape_alias",
})
#: Copies, casts and aliases: the identity on positions (``expand`` broadcasts).
PASS_THROUGH = frozenset({
    "clone", "contiguous", "detach", "alias", "_to_copy", "expand", "lift_fresh", "copy",
    "lift_fresh_copy", "to", "dropout", "native_dropout", "feature_dropout", "expand_as",
    "view_as",
})
#: Ops whose output does not depend on the values of their input (constants, random fills).
NO_DEPENDENCY = frozenset({
    "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
    "new_zeros", "new_ones", "new_empty", "new_full", "randint_like", "sym_size", "zero",
    "fill", "normal", "uniform", "bernoulli", "random", "exponential", "geometric", "cauchy",
    "log_normal", "empty_strided", "new_empty_strided",
})
#: Multi-output splits: each output is recorded as its own slice (``unbind``: select).
SPLITS = frozenset({"split", "split_with_sizes", "unbind", "chunk", "split_with_sizes_copy",
                    "unsafe_split", "unsafe_split_with_sizes", "unbind_copy"})
#: Reads at positions given by an index tensor (unknown on meta tensors).
INDEXED_READS = frozenset({"index_select", "gather", "index", "take", "take_along_dim"})
#: Writes at positions given by an index tensor or a mask (unknown on meta tensors).
SCATTERS = frozenset({
    "index_put", "_index_put_impl", "scatter", "scatter_add", "scatter_reduce", "index_add",
    "index_copy", "index_fill", "masked_scatter", "put", "index_reduce",
})
#: Position reindexing the rules know exactly (the view-like ones among them included).
REINDEX = frozenset({
    "roll", "flip", "repeat", "unfold", "as_strided", "im2col", "col2im", "diagonal",
    "slice_scatter", "select_scatter", "as_strided_scatter", "movedim", "narrow",
})
#: The synthetic op of a traced graph that writes a tensor into part of another (a slice
#: assignment, a ``copy_`` into a view, an in-place op on a view, read back through an alias).
WRITE = "write"
VIEWS = frozenset({
    "view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "unsqueeze",
    "squeeze", "select", "slice", "contiguous", "clone", "detach", "alias", "_to_copy",
    "split", "split_with_sizes", "unbind", "chunk", "narrow", "flatten", "unflatten",
    "as_strided", "lift_fresh", "_reshape_alias", "expand_as", "view_as", "copy",
    "lift_fresh_copy", "to", "dropout", "native_dropout", "feature_dropout", WRITE,
})
#: Ops moving or picking elements (no arithmetic) that are not plain views: category
#: ``'reindex'``.
REINDEXING = (REINDEX | INDEXED_READS | SCATTERS) - VIEWS
MATMULS = frozenset({"mm", "addmm", "bmm", "baddbmm"})
ATTENTION = frozenset({
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention", "scaled_dot_product_attention",
    "_scaled_dot_product_attention_math", "_scaled_dot_product_cudnn_attention",
})
ELEMENTWISE = MERGES | {
    "neg", "exp", "log", "sqrt", "rsqrt", "pow", "abs", "clamp", "clamp_min", "clamp_max",
    "reciprocal", "erf", "square", "masked_fill", "fill", "zero", "mul_", "addcmul",
    "addcdiv", "lerp", "floor", "ceil", "round", "fmod", "remainder", "bitwise_and",
    "logical_not", "eq", "ne", "lt", "le", "gt", "ge", "cos", "sin", "nan_to_num",
}

_TABLE = (
    ("linear", MATMULS), ("pool", POOLS), ("adaptive_pool", ADAPTIVE_POOLS),
    ("norm", NORMS), ("activation", ACTIVATIONS), ("upsample", UPSAMPLES),
    ("pad", PADS), ("reduce", REDUCTIONS), ("view", VIEWS), ("reindex", REINDEXING),
    ("attention", ATTENTION), ("elementwise", ELEMENTWISE),
)


def base_name(name: str) -> str:
    """The op name without an in-place suffix: ``'relu_'`` -> ``'relu'``.

    >>> base_name("relu_"), base_name("__and__")
    ('relu', '__and__')
    """
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def category(name: str) -> str:
    """The tracer's category of aten op ``name`` (one of ``graph.CATEGORIES``).

    >>> category("convolution"), category("relu_"), category("roll"), category("cumsum")
    ('conv', 'activation', 'reindex', 'other')
    """
    base = base_name(name)
    if base in ("convolution", "_convolution", "convolution_overrideable"):
        return "conv"
    for cat, names in _TABLE:
        if base in names:
            return cat
    if base in ("pixel_shuffle", "pixel_unshuffle"):
        return base
    if base in ("channel_shuffle", "native_channel_shuffle"):
        return "channel_shuffle"
    return "other"
