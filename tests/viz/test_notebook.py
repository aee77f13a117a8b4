"""The example notebook runs in a real kernel (nbclient + ipykernel), and its results show as
HTML: tables for summary, compare and receptive_field, the inline player for an animation."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "convzoo.ipynb"


def test_example_notebook_renders_tables_and_a_player():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = src + (os.pathsep + env_path if env_path else "")
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    assert all(not any(o.output_type == "error" for o in out) for out in outputs)
    html = [next(o.data["text/html"] for o in out if o.output_type == "execute_result")
            for out in outputs]
    summary, comparison, field, player = html
    assert "<caption" in summary and "convzoo summary" in summary and summary.count("<tr>") >= 3
    assert "convzoo compare" in comparison and "<td" in comparison and ">conv</td>" in comparison
    assert "receptive field of the model" in field and field.count("<tr>") == 3  # head + H, W

    from convzoo.viz import animate

    frames = len(animate("atrous", input_size=(5, 5)))
    assert f'data-frames="{frames}"' in player and "window.convzooPlayer" in player
    assert re.search(r'class="cz-play"', player) and re.search(r'class="cz-scrub"', player)
