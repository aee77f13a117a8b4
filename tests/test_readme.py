"""The README's API tour is executed: the README stays true to what the code does."""

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_examples_run():
    result = doctest.testfile(str(ROOT / "README.md"), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_readme_quick_start_is_the_two_make_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert re.findall(r"^make (\w+)", quick, flags=re.M) == ["demo", "test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()
