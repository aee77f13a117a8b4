"""DDP: two gloo processes on this machine, launched by torchrun."""

import os
import subprocess
import sys
from pathlib import Path

import torch

from convzoo.train.distributed import torchrun_command


def test_two_ranks_end_with_identical_weights_and_lower_loss(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--standalone", str(worker), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["model"].keys() == r1["model"].keys()
    assert all(torch.equal(r0["model"][k], r1["model"][k]) for k in r0["model"])
    losses = [row["train_loss"] for row in r0["history"]]
    assert losses[-1] < losses[0]
    assert [row["train_loss"] for row in r1["history"]] == losses  # all-reduced epoch sums
    # 64 samples, 2 ranks x 8 per step: 4 steps per epoch; only rank 0 wrote files
    assert r0["history"][-1]["step"] == 12 and "test_accuracy" in r0["history"][-1]
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"last.pt", "metrics.csv",
                                                             "metrics.json"}


def test_torchrun_command():
    cmd = torchrun_command(3, ["train", "unet", "--data", "shapes"])
    assert cmd[:7] == [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "3",
                       "--standalone", "-m"]
    assert cmd[7:] == ["convzoo", "train", "unet", "--data", "shapes"]
