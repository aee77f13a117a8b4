"""``convzoo animate``: an animation (.gif), one frame (.svg) or a video (.mp4) of one kind."""

from __future__ import annotations

import argparse
import sys

from convzoo.cli.output import check_output_file, console
from convzoo.cli.shape import spec_arguments, spec_options
from convzoo.names import deprecated_message
from convzoo.text import parse_ints, parse_size

__all__ = ["add_parser", "run", "options_from_args", "MODES", "MAX_FRAMES", "ANIMATED_FLAGS"]

#: The convolution flags of :func:`convzoo.cli.shape.spec_arguments` that animate takes.
ANIMATED_FLAGS = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                  "dilation", "groups", "output_padding")

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
    spec_arguments(p, required=False, only=ANIMATED_FLAGS)
    p.add_argument("--input", help="spatial size of the input: 16, 5x5 or 3x4x4; or the whole "
                   "shape 1,C,H,W as `summary` takes it (C then sets --in)")
    p.add_argument("--mode", help="transposed only: " + " or ".join(MODES)
                   + " (default zero-insertion)")
    p.add_argument("--upscale-factor", type=int, help="pixel_shuffle, subpixel, resize_conv: "
                   "r, by which each spatial size grows (default 2)")
    p.add_argument("--downscale-factor", type=int, help="pixel_unshuffle: r, by which each "
                   "spatial size shrinks (default 2)")
    p.add_argument("--factor", type=int, help=argparse.SUPPRESS)  # before 0.2: either factor
    p.add_argument("--rates", help="aspp only: dilation rates of the branches, e.g. 2,3")
    p.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    p.add_argument("--frame", type=int, default=0, help="frame written to .svg (default 0)")
    p.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                   help=f"at most this many frames (default {MAX_FRAMES})")
    p.set_defaults(func=run)


def options_from_args(args: argparse.Namespace) -> dict:
    """The keyword arguments of :func:`convzoo.viz.animate` the flags give (unset: omitted)."""
    spatial, _, channels = (None, None, None) if not args.input else parse_size(
        args.input, "--input", args.in_channels, one_sample=True)
    opts = {
        **spec_options(args),
        "input_size": spatial,
        "in_channels": args.in_channels if args.in_channels is not None else channels,
        "mode": args.mode,
        "upscale_factor": args.upscale_factor,
        "downscale_factor": args.downscale_factor,
        "rates": args.rates and parse_ints(args.rates, "--rates"),
    }
    if args.factor is not None:  # the old flag: the factor of whichever kind is drawn
        from convzoo.viz.animate.options import factor_name

        name = factor_name(args.kind)
        new = "--" + name.replace("_", "-")
        print(f"convzoo: warning: {deprecated_message('--factor', new)}", file=sys.stderr)
        if opts[name] is not None:
            raise ValueError(f"`--factor` (={args.factor}) and `{new}` name the same option; "
                             f"pass only `{new}`")
        opts[name] = args.factor
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
