"""Start-up: ``import convzoo`` is light (PEP 562 lazy attributes), ``convzoo.arithmetic`` never
imports torch, and ``convzoo shape`` / ``solve`` build only their own parser, without torch.

Each check runs in a fresh interpreter (this one has torch loaded already) and reads
``sys.modules``; wall time is measured for the docs, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import convzoo

SRC = str(Path(convzoo.__file__).resolve().parents[1])
HEAVY = ("torch", "numpy", "convzoo.analysis", "convzoo.fast", "convzoo.layers", "convzoo.viz",
         "convzoo.models", "convzoo.train")


def loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which heavy modules it left in ``sys.modules``,
    and what it printed."""
    probe = (
        "import io, json, sys, contextlib\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
        + "".join(f"    {line}\n" for line in code.splitlines())
        + f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules], "
        "'out': out.getvalue()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_convzoo_imports_nothing_heavy():
    assert loaded_after("import convzoo")["loaded"] == []


def test_import_arithmetic_does_not_import_torch():
    result = loaded_after("import convzoo.arithmetic\nimport convzoo.spec")
    assert result["loaded"] == []


def test_public_names_load_on_first_use():
    result = loaded_after("import convzoo\nprint(sorted(convzoo.available())[0])")
    assert result["out"].strip() == "aspp"
    assert {"torch", "convzoo.layers"} <= set(result["loaded"])
    assert "convzoo.fast" not in result["loaded"]


def test_lazy_names_are_the_library_objects():
    from convzoo.analysis import summary
    from convzoo.fast.optimizer import optimize
    from convzoo.layers import create

    assert (convzoo.summary, convzoo.optimize, convzoo.create) == (summary, optimize, create)
    assert set(convzoo.__all__) <= set(dir(convzoo))
    for name in convzoo.__all__:
        assert getattr(convzoo, name) is not None
    with pytest.raises(AttributeError, match="module 'convzoo' has no attribute 'nope'"):
        convzoo.nope  # noqa: B018


def test_models_loads_without_an_import():
    # convzoo.models was missing from the lazy table: AttributeError until imported
    result = loaded_after("import convzoo\nprint('resnet50' in convzoo.models.available())")
    assert result["out"].strip() == "True"
    assert "convzoo.models" in result["loaded"]


@pytest.mark.parametrize("argv", [
    ["shape", "--in", "3", "--out", "8", "-k", "3", "--input", "1,3,32,32"],
    ["solve", "--input", "32", "--target", "16", "-k", "3", "-s", "2"],
    ["shape", "--help"],
    ["solve", "--help"],
    ["--help"],
], ids=["shape", "solve", "shape-help", "solve-help", "help"])
def test_arithmetic_commands_do_not_import_torch(argv):
    result = loaded_after(f"from convzoo.cli.main import main\ncode = main({argv!r})")
    assert result["loaded"] == [], result["out"]
    assert result["out"].strip()
