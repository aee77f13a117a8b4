"""Write the zoo table of docs/models.md (between ``<!-- zoo table -->`` and
``<!-- /zoo table -->``) from ``convzoo.tour.zoo``: every number counted by convzoo.analysis.
Usage: ``.venv/bin/python tools/models_doc.py``."""

from __future__ import annotations

import sys
from pathlib import Path

from convzoo.cli.tour_zoo import axes_text
from convzoo.tour.zoo import zoo_rows

DOC = Path(__file__).resolve().parent.parent / "docs" / "models.md"
START, END = "<!-- zoo table -->", "<!-- /zoo table -->"


def table() -> str:
    lines = [
        START,
        "| model | known for | conv MACs by kind (traced) | input | params | MACs | RF r / S "
        "| reproduces |",
        "|---|---|---|---|---:|---:|---|---|",
    ]
    for r in zoo_rows():
        kinds = ", ".join(f"{k} {s:.0%}" for k, s in r.kinds if s >= 0.005)
        lines.append(
            f"| `{r.name}` | {', '.join(r.variants)} | {kinds} | "
            f"{'×'.join(map(str, r.input_shape[1:]))} | {r.params:,} | {r.macs:,} | "
            f"{axes_text(r.rf_sizes)} / {axes_text(r.rf_strides)} | {r.source} |"
        )
    lines.append(END)
    return "\n".join(lines)


def main() -> int:
    text = DOC.read_text()
    if START not in text:
        print(f"{DOC}: no {START} marker", file=sys.stderr)
        return 1
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END) if END in rest else ("", "", rest.partition("\n")[2])
    DOC.write_text(head + table() + tail)
    print(f"wrote the zoo table of {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
