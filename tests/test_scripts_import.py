"""The scripts in tools/ and benchmarks/ import (their names from convzoo still exist): they
run outside the suite (minutes each), so a renamed library function would otherwise break
them unnoticed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for folder in ("tools", "benchmarks") for p in (ROOT / folder).glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[f"{p.parent.name}/{p.name}" for p in SCRIPTS])
def test_script_imports(path, monkeypatch):
    monkeypatch.syspath_prepend(str(path.parent))
    name = path.stem
    sys.modules.pop(name, None)
    module = importlib.import_module(name)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"
