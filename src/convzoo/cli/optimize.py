"""``convzoo optimize MODEL --input N,C,H,W``: ``convzoo.optimize`` from the command line.

Builds the model (``MODEL``: a zoo name, ``file.py:factory``, or a file saved with
``torch.save``), optimizes it on a random normal input of that shape, prints what was done
and every candidate's timing with its spread, and with ``--out`` writes the deployable file
(``.onnx`` or ``.xml`` OpenVINO IR).
"""

from __future__ import annotations

import argparse

from convzoo.cli.models import weights_only_argument
from convzoo.cli.output import console, emit_json
from convzoo.cli.summary import model_arguments

__all__ = ["add_parser", "run"]

_BACKENDS = ("torch", "onnxruntime", "openvino", "auto")
_PRECISIONS = ("fp32", "bf16")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo optimize``."""
    p = subparsers.add_parser(
        "optimize", help="a faster inference model, same outputs (convzoo.optimize)",
        description="Optimize MODEL for inference on a random input of --input's shape: exact "
        "graph rewrites, verified against the original on fresh inputs; prints what was done "
        "and the timing of every candidate (backend x thread count, interleaved blocks).",
    )
    model_arguments(p)  # MODEL and --input, as summary, rf and profile take them
    p.add_argument("--backend", default="torch", choices=_BACKENDS,
                   help="torch (default), onnxruntime, openvino, or auto (time them all and "
                   "keep the fastest)")
    p.add_argument("--precision", default="fp32", choices=_PRECISIONS,
                   help="fp32 (default) or bf16 (CPUs with native bfloat16)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write a deployable file: FILE.onnx (ONNX) or FILE.xml (OpenVINO IR "
                   "with FILE.bin), dynamic batch size, verified before it is kept")
    weights_only_argument(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo optimize``."""
    import torch

    from convzoo.cli.models import load_model
    from convzoo.fast.optimizer import optimize
    from convzoo.fast.view import OptimizeView
    from convzoo.text import parse_shape

    shape = parse_shape(args.input, "--input")
    model = load_model(args.model, weights_only=not args.no_weights_only)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    fast = optimize(model.eval(), x, backend=args.backend, precision=args.precision)
    written = fast.save(args.out) if args.out else None
    view = OptimizeView(fast.report)
    if args.json:
        emit_json({**view.to_dict(), "out": written})
        return 0
    view.render(console())
    if written:
        console().print(f"wrote {written}", markup=False, highlight=False)
    return 0
