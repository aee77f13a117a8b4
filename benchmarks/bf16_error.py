"""bfloat16 error against float32 on held-out inputs: convzoo precision='bf16' and OpenVINO's
bf16 (not a timing). Models with randomised BatchNorm statistics and classifier, so that the
outputs depend on the input (default-initialised zoo models output almost their classifier
bias, which makes errors meaningless). Writes benchmarks/results/bf16_error<tag>.json.

    .venv/bin/python benchmarks/bf16_error.py [--tag _issue11]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn as nn

import convzoo.models as zoo
from convzoo.fast import optimize
from convzoo.fast.backends import BackendModule, export_onnx, openvino_session

RESULTS = Path(__file__).parent / "results"


def randomise(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        elif isinstance(m, nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0, 0.05, generator=g)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "fast"))
    from plain_nets import MobileNetV2

    models = {"mobilenet_v2": lambda: zoo.create("mobilenet_v2"),
              "shufflenet_v2": lambda: zoo.create("shufflenet_v2"),
              "plain_mobilenet_v2": lambda: MobileNetV2(1000, full=True)}
    rows = []
    for name, make in models.items():
        torch.manual_seed(0)
        model = randomise(make())
        x = torch.randn(1, 3, 224, 224)
        fast = optimize(model, x, precision="bf16")
        ov = BackendModule(openvino_session(export_onnx(model, x), "bf16"), tuple(x.shape),
                           model(x), "openvino")
        row: dict = {"model": name, "convzoo_bf16": [], "openvino_bf16": [], "scale": []}
        for seed in range(3):  # held-out inputs: not the example
            held = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(seed + 1))
            with torch.no_grad():
                ref = model(held)
                row["scale"].append(ref.abs().max().item())
                row["convzoo_bf16"].append((fast(held) - ref).abs().max().item())
                row["openvino_bf16"].append((ov(held) - ref).abs().max().item())
        rows.append(row)
        print(name, {k: [f"{v:.3g}" for v in vals] for k, vals in row.items() if k != "model"})
    out = RESULTS / f"bf16_error{args.tag}.json"
    out.write_text(json.dumps({"rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
