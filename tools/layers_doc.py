"""Generate docs/layers.md from the layer registry: formula, test count, export status.

Usage: ``.venv/bin/python tools/layers_doc.py [--output docs/layers.md]`` (about a minute:
it collects the tests and exports every kind's first example three ways).

For each registered kind the table gives its class, its one-line description, the Shape
formula (the first paragraph of the ``Shape:`` section of the class docstring), the number
of tests exercising it, and whether its first registered example goes through
``torch.export`` / ONNX (dynamo exporter, saved, run by onnxruntime) /
``torch.compile(fullgraph=True, backend="aot_eager")`` with outputs equal to eager (✓), or
the exception it raised (✗).

Counting rule for tests (COUNTING_RULE below, printed into the document): the node ids of
``pytest --collect-only -q tests/layers``; a kind is *mentioned* by a name when the name,
split on ``_``, ``-`` and ``.``, contains the kind's words in sequence (longest kinds are
matched first and their words consumed, so ``shuffle_group`` is not also ``shuffle``, and a
``conv`` right after a kind belongs to it: ``group_conv`` is ``group``). A test counts for
the kinds mentioned by its parameter id (``[separable-0]``); if none, by its function name;
if none, by its file name.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import logging
import re
import subprocess
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import torch

import convzoo  # noqa: F401  (registers every layer)
from convzoo.layers import REGISTRY

ROOT = Path(__file__).resolve().parents[1]

COUNTING_RULE = (
    "a collected test (`pytest --collect-only -q tests/layers`) counts for the kinds named by "
    "its parameter id (`[separable-0]`); if it names none, by its function name; if none, by "
    "its file name (whole `_`-separated words, longest kind first: `shuffle_group` is not "
    "also `shuffle`, `group_conv` is `group`). A test naming no kind counts for none."
)


def shape_formula(cls: type) -> str:
    """The first paragraph of the class docstring's ``Shape:`` section, on one line."""
    doc = inspect.getdoc(cls) or ""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().rstrip(":") == "Shape":
            body = []
            for text in lines[i + 1:]:
                if not text.strip() or not text[:1].isspace():
                    break
                body.append(text.strip())
            return " ".join(body)
    return ""


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\-.\s/\[\]]+", name.lower()) if w]


def kinds_mentioned(name: str, kinds: list[str]) -> set[str]:
    """The kinds whose words occur in sequence in ``name`` (longest kinds first, consumed;
    ``conv`` last, so that the ``conv`` of ``group_conv`` goes to ``group``)."""
    words = _words(name)
    used = [False] * len(words)
    found = set()
    for kind in sorted(kinds, key=lambda k: (k == "conv", -len(k.split("_")), k)):
        parts = kind.split("_")
        for i in range(len(words) - len(parts) + 1):
            span = range(i, i + len(parts))
            if words[i:i + len(parts)] == parts and not any(used[j] for j in span):
                found.add(kind)
                for j in span:
                    used[j] = True
                after = i + len(parts)
                if kind != "conv" and after < len(words) and words[after] == "conv":
                    used[after] = True
    return found


def kinds_of_test(node_id: str, kinds: list[str]) -> set[str]:
    """The counting rule (module docstring) for one pytest node id."""
    path, _, rest = node_id.partition("::")
    function, _, param = rest.partition("[")
    param_kinds = {t for t in param.rstrip("]").split("-") if t in kinds}
    return (param_kinds or kinds_mentioned(function, kinds)
            or kinds_mentioned(Path(path).stem, kinds))


def collected() -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/layers"], capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if "::" in line]


def count_tests(ids: list[str]) -> Counter:
    kinds = sorted(REGISTRY)
    return Counter(k for node in ids for k in kinds_of_test(node, kinds))


def _why(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text.replace("|", "\\|")
    return f"✗ {type(error).__name__}" + (f": {text[:80]}" if text else "")


def export_status(kind: str) -> dict[str, str]:
    """✓ or ✗ (with the exception) for the three exports of ``kind``'s first example."""
    module, shape = REGISTRY[kind].examples()[0]
    module.eval()
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randn(shape, generator=g) for _ in range(2)]
    status = {}
    try:
        exported = torch.export.export(module, (inputs[0],)).module()
        for x in inputs:
            torch.testing.assert_close(exported(x), module(x))
        status["export"] = "✓"
    except Exception as e:  # noqa: BLE001  (a status table: record, do not stop)
        status["export"] = _why(e)
    try:
        import onnxruntime

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{kind}.onnx"
            torch.onnx.export(module, (inputs[0],), dynamo=True, verbose=False).save(str(path))
            sess = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            for x in inputs:
                (y,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
                torch.testing.assert_close(torch.from_numpy(y), module(x).detach(),
                                           rtol=1e-3, atol=1e-4)
        status["onnx"] = "✓"
    except Exception as e:  # noqa: BLE001
        status["onnx"] = _why(e)
    try:
        torch._dynamo.reset()
        compiled = torch.compile(module, fullgraph=True, backend="aot_eager")
        for x in inputs:
            torch.testing.assert_close(compiled(x), module(x))
        status["compile"] = "✓"
    except Exception as e:  # noqa: BLE001
        status["compile"] = _why(e)
    finally:
        torch._dynamo.reset()
    return status


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(ids: list[str], statuses: dict[str, dict[str, str]], today: datetime.date) -> str:
    counts = count_tests(ids)
    lines = [
        "# convzoo.layers",
        "",
        f"Generated by `.venv/bin/python tools/layers_doc.py` on {today.isoformat()} from the "
        f"layer registry ({len(REGISTRY)} kinds, {len(ids)} tests collected under "
        "`tests/layers`); do not edit by hand, rerun the script.",
        "",
        "Every layer has `specs()` (its ConvSpecs, so `convzoo.analysis` counts it with the "
        "same arithmetic), an `extra_repr`, a docstring with Args / Shape / a doctest, and "
        "`convzoo.create(kind, ...)`. Every registered example goes through the "
        "registry-wide checks (`tests/layers/test_all_layers.py`, `test_all_export.py`, "
        "`test_all_compile.py`, parametrized from the registry in `tests/layers/conftest.py`): "
        "finite forward, `specs()` accounting for every conv parameter, float64 gradcheck, "
        "state_dict round trip, channels_last, empty batch, unbatched input (equal to the "
        "batched result, or refused with a ValueError naming the input shape) and "
        "torch.export; the first example of each kind also through ONNX (run by onnxruntime) "
        "and `torch.compile(fullgraph=True)`. Each layer's own test file compares it with the "
        "NumPy reference engine or an explicit torch.nn construction.",
        "",
        f"**tests**: {COUNTING_RULE}",
        "",
        "**export columns**: the kind's first registered example, exported and run on two "
        "inputs, outputs compared with eager (ONNX: float32, atol 1e-4, rtol 1e-3); ✓ or ✗ "
        "with the exception.",
        "",
        "| kind | class | what | Shape | tests | torch.export | ONNX + onnxruntime | "
        "torch.compile(fullgraph) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, entry in sorted(REGISTRY.items()):
        s = statuses[kind]
        lines.append(
            f"| `{kind}` | `{entry.cls.__name__}` | {_cell(entry.description)} | "
            f"{_cell(shape_formula(entry.cls))} | {counts[kind]} | {s['export']} | "
            f"{s['onnx']} | {s['compile']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "layers.md")
    args = parser.parse_args(argv)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)  # tiny tensors: the thread pool only adds latency
    ids = collected()
    statuses = {kind: export_status(kind) for kind in sorted(REGISTRY)}
    args.output.write_text(render(ids, statuses, datetime.date.today()), encoding="utf-8")
    failed = sorted(k for k, s in statuses.items() if any(v != "✓" for v in s.values()))
    print(f"wrote {args.output} ({len(REGISTRY)} kinds, {len(ids)} layer tests collected"
          + (f"; export failures: {', '.join(failed)})" if failed else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
