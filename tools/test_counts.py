"""Measure the numbers docs/testing.md states: tests run, PyTorch samples matched, hypothesis
examples run. Usage: ``.venv/bin/python tools/test_counts.py`` (runs the suite once, serially,
with hypothesis statistics, and prints a markdown block)."""

from __future__ import annotations

import re
import subprocess
import sys
import time


def main() -> int:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--hypothesis-show-statistics", "-rN"],
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    out = proc.stdout
    passing = sum(int(n) for n in re.findall(r"- (\d+) passing", out))
    hypothesis_tests = len(re.findall(r"^tests/\S+::\S+:$", out, flags=re.M))
    summary = out.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", summary).group(1)) if "passed" in summary else 0
    opdb = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "tests/spec/test_opdb_samples.py", "-rA"],
        capture_output=True, text=True,
    ).stdout
    samples = len(re.findall(r"PASSED .*test_sample_matches_reference", opdb))
    errors = len(re.findall(r"PASSED .*test_error_input_is_rejected", opdb))
    print(f"- pytest: `{summary}` ({seconds:.0f} s serially)")
    print(f"- tests passed: {passed}")
    print(f"- PyTorch op_db conv samples matched by the reference engine: {samples}")
    print(f"- PyTorch op_db conv error_inputs rejected (strided 'same': computed): {errors}")
    print(f"- hypothesis: {hypothesis_tests} property tests ran {passing} passing examples")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
