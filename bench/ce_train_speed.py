"""Training throughput of AdaFortiTran and FortiTran, `paper` against `cpu` size, side by side.

One training step = forward + backward + AdamW step on a batch of frames of the default
grid (120 subcarriers x 14 symbols, 24 pilots, one receive antenna), random inputs (the
cost does not depend on the values). The sizes alternate step by step, so both see the
same machine load; the result is the median step time per size and the median of the
paired ratios.

    python bench/ce_train_speed.py [--repeats 7] [--batch-size 64] [--threads 2]

Prints and writes ``bench/results/ce_train_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from wirelessml.models.adafortitran import (
    AdaFortiTran,
    AdaFortiTranConfig,
    FortiTran,
    FortiTranConfig,
)

RESULTS = Path(__file__).parent / "results" / "ce_train_speed.json"


def _models() -> dict[str, torch.nn.Module]:
    return {
        "adafortitran-paper": AdaFortiTran(AdaFortiTranConfig.paper()),
        "adafortitran-cpu": AdaFortiTran(AdaFortiTranConfig.cpu()),
        "fortitran-paper": FortiTran(FortiTranConfig.paper()),
        "fortitran-cpu": FortiTran(FortiTranConfig.cpu()),
    }


def _step_fn(model: torch.nn.Module, batch: int):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    h_ls = torch.randn(batch, 1, 2, 12, dtype=torch.complex64)
    h = torch.randn(batch, 1, 14, 120, dtype=torch.complex64)
    priors = [torch.rand(batch) * 25, torch.rand(batch) * 300, torch.rand(batch) * 1000]

    def step() -> float:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = (model(h_ls, *priors) - h).abs().square().mean()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = _models()
    steps = {name: _step_fn(m, args.batch_size) for name, m in models.items()}
    for step in steps.values():  # warm-up: allocator, kernels
        step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(args.repeats):
        for name, step in steps.items():
            times[name].append(step())
        print(f"repeat {r + 1}/{args.repeats}: " + ", ".join(
            f"{n} {args.batch_size / t[-1]:.1f} frames/s" for n, t in times.items()), flush=True)
    result = {
        "definition": "frames/s = batch / median step time; step = forward + backward + AdamW",
        "batch_size": args.batch_size,
        "threads": args.threads,
        "repeats": args.repeats,
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__},
        "models": {},
    }
    for name, model in models.items():
        median = statistics.median(times[name])
        result["models"][name] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "tokens": model.config.num_tokens,
            "median_step_s": median,
            "frames_per_s": args.batch_size / median,
        }
    for family in ("adafortitran", "fortitran"):
        ratios = [p / c for p, c in zip(times[f"{family}-paper"], times[f"{family}-cpu"],
                                        strict=True)]
        result[f"{family}_cpu_speedup"] = statistics.median(ratios)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
