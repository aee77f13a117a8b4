"""``convzoo serve``: the playground, a local web app (see :mod:`convzoo.serve`)."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``convzoo serve``."""
    p = subparsers.add_parser(
        "serve", help="start the playground: a local web app to play with every convolution",
        description="Start the playground on this machine: pick a kind, change its settings and "
        "watch the output-size formula, params, MACs, bytes, receptive field and the animation "
        "update; a second view follows a receptive field through a stack of layers. Works "
        "offline. Ctrl-C stops it.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``convzoo serve``."""
    from convzoo.serve import serve

    return serve(args.host, args.port, open_browser=args.open,
                 out=lambda line: print(line, flush=True))
