"""``convzoo train``: a tiny CLI run, one-line errors (exit 2), --nproc, SIGKILL + --resume."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from convzoo.cli.main import build_parser, main
from convzoo.cli.train import _argv
from convzoo.train import CHECKPOINT, TrainConfig, load_checkpoint, train

TINY = ["--epochs", "1", "--batch-size", "8", "--limit", "16", "--set", "base_channels=4",
        "--no-progress", "--threads", "1"]


def test_cli_tiny_run(tmp_path, capsys):
    assert main(["train", "digits_separable", "--data", "digits", "--out", str(tmp_path),
                 "--json", *TINY]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 2 and 0 <= result["final"]["test_accuracy"] <= 1
    assert {p.name for p in tmp_path.iterdir()} == {CHECKPOINT, "metrics.csv", "metrics.json"}


def test_cli_table_output(capsys):
    assert main(["train", "digits_separable", "--data", "lfw_faces", *TINY]) == 0
    out = capsys.readouterr().out
    assert "test_accuracy" in out and "training wall time" in out


def test_cli_errors_are_one_line_exit_2(tmp_path, capsys):
    cases = [
        (["train", "resnet", "--data", "digits"], "convzoo: error: `name` (='resnet') is not a "
         "zoo model; did you mean 'resnet50'? Valid: c3d, "),
        (["train", "alexnet", "--data", "digits"], "convzoo: error: `name` (='alexnet') must be "
         "one of: c3d, "),
        (["train", "digits_separable", "--data", "cifar"], "convzoo: error: `data` (='cifar') "
         "must be one of:"),
        (["train", "digits_separable", "--data", "digits", "--set", "base_channels"],
         "convzoo: error: `--set` (='base_channels') must be KEY=VALUE"),
        (["train", "digits_separable", "--data", "digits", "--resume"],
         "convzoo: error: `resume` (=True) needs `out`"),
        (["train", "digits_separable", "--data", "digits", "--out", str(tmp_path), "--resume"],
         f"convzoo: error: checkpoint '{tmp_path / CHECKPOINT}' does not exist"),
        (["train", "digits_separable", "--data", "digits", "--nproc", "0"],
         "convzoo: error: `--nproc` (=0) must be a positive int"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and err.count("\n") == 1, (argv, err)


def test_argv_round_trip():
    argv = ["train", "unet", "--data", "shapes", "--seed", "3", "--epochs", "2", "--out", "o",
            "--set", "depth=3", "--data-option", "size=16", "--resume", "--no-progress"]
    args = build_parser().parse_args([*argv, "--nproc", "2"])
    again = build_parser().parse_args(_argv(args))
    assert {**vars(again), "nproc": 2} == vars(args)


def test_sigkill_mid_epoch_then_resume(tmp_path):
    """A run killed with SIGKILL right after its first mid-epoch checkpoint resumes from it and
    ends with the same weights as an uninterrupted run."""
    argv = ["train", "digits_separable", "--data", "digits", "--epochs", "3", "--batch-size",
            "8", "--limit", "80", "--set", "base_channels=4", "--no-progress", "--threads", "1",
            "--checkpoint-every", "1", "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "convzoo", *argv], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (tmp_path / CHECKPOINT).exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read().decode()
    killed_at = load_checkpoint(tmp_path / CHECKPOINT)
    assert killed_at["global_step"] < 30  # 3 epochs x 10 steps: it was killed mid-run
    resumed = subprocess.run([sys.executable, "-m", "convzoo", *argv, "--resume"], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    final = load_checkpoint(tmp_path / CHECKPOINT)
    assert final["global_step"] == 30 and final["epoch"] == 3
    reference = train(TrainConfig("digits_separable", "digits", epochs=3, batch_size=8,
                                  limit=80, model_config={"base_channels": 4}, progress=False,
                                  threads=1))
    ref = reference.model.state_dict()
    assert all(torch.equal(final["model"][k], ref[k]) for k in ref)


def test_nproc_relaunches_under_torchrun(monkeypatch):
    import convzoo.cli.train as cli_train

    seen = []
    monkeypatch.setattr(cli_train.subprocess, "call", lambda cmd: seen.append(cmd) or 0)
    assert main(["train", "digits_separable", "--data", "digits", "--nproc", "2", "--epochs",
                 "1", "--set", "base_channels=4"]) == 0
    cmd = seen[0]
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--nproc-per-node", "2"]
    assert cmd[cmd.index("convzoo") + 1:] == ["train", "digits_separable", "--data", "digits",
                                              "--seed", "0", "--epochs", "1", "--set",
                                              "base_channels=4"]
