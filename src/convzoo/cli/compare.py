"""``convzoo compare --in 64 --out 128 -k 3 --input 56x56``: every variant, counted and timed."""

from __future__ import annotations

import argparse

from convzoo.cli.output import console, emit_json, parse_input, parse_ints, per_axis

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo compare``."""
    p = subparsers.add_parser(
        "compare", help="standard vs grouped, shuffle, separable, flattened, dilated... measured",
        description="Build every variant of one layer configuration and compare params, MACs, "
        "bytes, arithmetic intensity, receptive field and measured latency (forward and "
        "forward+backward, interleaved medians), each as a ratio to the standard conv. With "
        "--upsample r: transposed conv vs sub-pixel conv vs resize-conv.",
    )
    p.add_argument("--in", dest="in_channels", type=int, required=True, help="C_in")
    p.add_argument("--out", dest="out_channels", type=int, required=True, help="C_out")
    p.add_argument("-k", "--kernel", required=True, help="kernel size: 3 or 3,5")
    p.add_argument("--input", required=True,
                   help="spatial input size, e.g. 56x56, or the whole shape N,C,H,W as "
                   "`summary` takes it, e.g. 1,64,56,56")
    p.add_argument("-s", "--stride", default="1", help="stride (default 1)")
    p.add_argument("--batch", type=int, default=None,
                   help="batch size N (default 1, or N of an N,C,H,W --input)")
    p.add_argument("--groups", default="2,4", help="group counts to try (default 2,4)")
    p.add_argument("--upsample", type=int, default=None,
                   help="compare upsampling variants for this factor instead")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats (default 20)")
    p.add_argument("--no-measure", action="store_true", help="counts only, no timing")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--wide", action="store_true",
                   help="every digit (4,089,184,256 instead of 4.09 G); may exceed 80 columns")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo compare``."""
    from convzoo.analysis.compare import compare

    size, batch, _ = parse_input(args.input, args.in_channels)
    if batch is not None and args.batch is not None and batch != args.batch:
        raise ValueError(f"`--batch` (={args.batch}) differs from N (={batch}) in `--input` "
                         f"(={args.input!r})")
    batch = args.batch or batch or 1
    kernel = parse_ints(args.kernel, "--kernel")
    stride = parse_ints(args.stride, "--stride")
    result = compare(
        args.in_channels, args.out_channels, per_axis(kernel), per_axis(size), per_axis(stride),
        batch=batch, groups=parse_ints(args.groups, "--groups"), upsample=args.upsample,
        repeats=args.repeats, measure=not args.no_measure,
    )
    if args.json:
        emit_json(result.to_dict())
    else:
        result.render(console(), wide=args.wide)
    return 0
