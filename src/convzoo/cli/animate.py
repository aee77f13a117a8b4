"""``convzoo animate``: an animation (.gif), one frame (.svg) or a video (.mp4) of one kind."""

from __future__ import annotations

import argparse

from convzoo.cli.output import (
    check_output_file,
    console,
    parse_input,
    parse_ints,
    parse_padding,
    per_axis,
)

__all__ = ["add_parser", "run", "options_from_args", "MODES", "MAX_FRAMES"]

#: convzoo.viz.animate's MODES and MAX_FRAMES, kept in step by a test so that building the
#: parser (``--help``) does not import the drawing code and NumPy.
MODES = ("zero-insertion", "scatter")
MAX_FRAMES = 64


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo animate``."""
    from convzoo.arithmetic.variants import ALIASES, Variant

    KINDS = tuple(v.value for v in Variant)  # what convzoo.viz.animate animates

    p = subparsers.add_parser(
        "animate", help="animate one kind of convolution (.gif, .svg frame, .mp4)",
        description="Animate a convolution: each frame highlights the input cells feeding the "
        "output element being computed (exactly those the reference engine uses) and prints "
        "the output-size formula and the running sum. Kinds: " + ", ".join(KINDS) + " (aliases: "
        + ", ".join(sorted(ALIASES)) + ").",
    )
    p.add_argument("kind", metavar="KIND", help="one of: " + ", ".join(KINDS)
                   + " (or an alias such as grouped, atrous, sub-pixel)")
    p.add_argument("-o", "--output", required=True, help="file to write: .gif, .svg or .mp4")
    p.add_argument("-k", "--kernel", help="kernel size: 3 or 3,5")
    p.add_argument("-s", "--stride", help="stride: 2 or 2,1")
    p.add_argument("-p", "--padding", help="valid, same, full, causal, or ints like 1 / 1,2")
    p.add_argument("-d", "--dilation", help="dilation: 2 or 2,1")
    p.add_argument("-g", "--groups", type=int, help="channel groups")
    p.add_argument("--in", dest="in_channels", type=int, help="C_in")
    p.add_argument("--out", dest="out_channels", type=int, help="C_out")
    p.add_argument("--input", help="spatial size of the input: 16, 5x5 or 3x4x4; or the whole "
                   "shape 1,C,H,W as `summary` takes it (C then sets --in)")
    p.add_argument("--output-padding", help="transposed only: 0 or 1,0")
    p.add_argument("--mode", help="transposed only: " + " or ".join(MODES)
                   + " (default zero-insertion)")
    p.add_argument("--factor", type=int, help="pixel_shuffle, pixel_unshuffle, subpixel, "
                   "resize_conv: the scale factor (default 2)")
    p.add_argument("--rates", help="aspp only: dilation rates of the branches, e.g. 2,3")
    p.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    p.add_argument("--frame", type=int, default=0, help="frame written to .svg (default 0)")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help=f"at most this many frames (default {MAX_FRAMES})")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`convzoo.viz.animate` the flags give (unset: omitted)."""
    spatial, batch, channels = (None, None, None) if not args.input else parse_input(
        args.input, args.in_channels)
    if batch not in (None, 1):
        raise ValueError(f"`--input` (={args.input!r}) must have N=1: an animation draws one "
                         "sample")
    opts = {
        "kernel": args.kernel and per_axis(parse_ints(args.kernel, "--kernel")),
        "stride": args.stride and per_axis(parse_ints(args.stride, "--stride")),
        "padding": args.padding and parse_padding(args.padding),
        "dilation": args.dilation and per_axis(parse_ints(args.dilation, "--dilation")),
        "output_padding": args.output_padding
        and per_axis(parse_ints(args.output_padding, "--output-padding", allow_zero=True)),
        "input_size": spatial,
        "groups": args.groups,
        "in_channels": args.in_channels if args.in_channels is not None else channels,
        "out_channels": args.out_channels,
        "mode": args.mode,
        "factor": args.factor,
        "rates": args.rates and parse_ints(args.rates, "--rates"),
    }
    return {name: value for name, value in opts.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo animate``."""
    check_output_file(args.output, "--output")  # before rendering: a bad path fails at once
    from convzoo.viz.animate import animate, save

    scenes = animate(args.kind, max_frames=args.max_frames, **options_from_args(args))
    path = save(scenes, args.output, fps=args.fps, frame=args.frame)
    frames = 1 if path.suffix.lower() == ".svg" else len(scenes)
    console().print(f"wrote {path} ({scenes.kind}: {frames} frame{'s' if frames != 1 else ''})",
                    markup=False)
    return 0
