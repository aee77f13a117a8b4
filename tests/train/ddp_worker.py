"""Run by torchrun from test_train_ddp.py: train a tiny model with DDP, save this rank's
weights and loss history as ``rank<r>.pt`` in the folder given as argv[1]."""

import os
import sys

import torch

from convzoo.train import TrainConfig, train

if __name__ == "__main__":
    out = sys.argv[1]
    r = train(TrainConfig("digits_separable", "digits", epochs=3, batch_size=8, limit=64,
                          lr=5e-3, model_config={"base_channels": 4}, progress=False, threads=1,
                          out=os.path.join(out, "run")))
    torch.save({"model": r.model.state_dict(), "history": r.history},
               os.path.join(out, f"rank{os.environ['RANK']}.pt"))
