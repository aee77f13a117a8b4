"""``convzoo compare --in 64 --out 128 -k 3 --input 56x56``: every variant, counted and timed.

The convolution flags are :func:`convzoo.cli.shape.spec_arguments`' (``--in``, ``--out``,
``-k/--kernel-size``, ``-s/--stride``), as ``convzoo shape`` and ``convzoo animate`` take them.
"""

from __future__ import annotations

import argparse

from convzoo.cli.output import output_arguments, renamed_flag, show
from convzoo.cli.shape import spec_arguments, spec_options
from convzoo.text import parse_ints, parse_size, per_axis

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo compare``."""
    p = subparsers.add_parser(
        "compare", help="conv vs group, shuffle_group, separable, flattened, dilated... measured",
        description="Build every variant of one layer configuration and compare params, MACs, "
        "bytes, arithmetic intensity, receptive field and measured latency (forward and "
        "forward+backward, interleaved medians), each as a ratio to the standard conv. With "
        "--upscale-factor r: transposed conv vs sub-pixel conv vs resize-conv.",
    )
    spec_arguments(p, only=("in_channels", "out_channels", "kernel_size", "stride"))
    p.add_argument("--input", required=True,
                   help="spatial input size, e.g. 56x56, or the whole shape N,C,H,W as "
                   "`summary` takes it, e.g. 1,64,56,56")
    p.add_argument("--batch", type=int, default=None,
                   help="batch size N (default 1, or N of an N,C,H,W --input)")
    p.add_argument("--groups", default="2,4", help="group counts to try (default 2,4)")
    renamed_flag(p, "--upscale-factor", old=("--upsample",), type=int, default=None,
                 help="compare the upsampling variants for this factor r instead (formerly "
                 "--upsample)")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats (default 20)")
    p.add_argument("--no-measure", action="store_true", help="counts only, no timing")
    output_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo compare``."""
    from convzoo.analysis.compare import compare

    size, batch, _ = parse_size(args.input, "--input", args.in_channels)
    if batch is not None and args.batch is not None and batch != args.batch:
        raise ValueError(f"`--batch` (={args.batch}) differs from N (={batch}) in `--input` "
                         f"(={args.input!r})")
    spec = spec_options(args)
    result = compare(
        args.in_channels, args.out_channels, spec["kernel_size"], per_axis(size),
        spec["stride"], batch=args.batch or batch or 1,
        groups=parse_ints(args.groups, "--groups"), upscale_factor=args.upscale_factor,
        repeats=args.repeats, measure=not args.no_measure,
    )
    return show(result, args)
