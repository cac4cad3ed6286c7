"""Benchmark of issue 7: ICGNN against WMMSE, RZF, ZF and MRT on MU-MISO downlink precoding.

Steps (each result is written to the JSON as soon as it exists):

1. Simulate (``mimo``, Rayleigh with exponential BS correlation 0.5): training set (K in
   [2, 4], M in [4, 8], SNR uniform in [0, 25] dB), validation set, a test grid of the
   trained sizes (K in {2, 3, 4} x M in {4, 6, 8} x SNR in {0, 5, ..., 25} dB) and a
   generalization grid up to twice the largest trained sizes (K in {2, 4, 6, 8} x
   M in {4, 8, 12, 16}, K <= M, SNR in {10, 20} dB).
2. Train ICGNN (``cpu`` size) with the one training loop for a wall-clock budget.
3. Per (K, M, SNR) group of each test grid (unpadded to the group's K and M): mean sum SE
   of every method, ICGNN's ratio to WMMSE (ratio of the mean sum SEs), and the inference
   time per batch of ICGNN and WMMSE measured side by side (alternating, median of
   ``--repeats`` calls each).

Usage::

    nice -n 5 python bench/precoding.py --work /tmp/wml-precoding --budget 25m
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from wirelessml.api import simulate
from wirelessml.cli.train import parse_duration
from wirelessml.config import config_to_dict, parse_overrides
from wirelessml.datasets import read_arrays
from wirelessml.models.icgnn import ICGNNConfig
from wirelessml.simulators import MIMOConfig
from wirelessml.tasks.precoding_baselines import mrt, rzf, sum_rate, wmmse, zf
from wirelessml.train import TrainConfig, load_run, train

RESULTS = Path(__file__).parent / "results" / "precoding.json"

TRAIN = MIMOConfig(num_users=(2, 4), num_antennas=(4, 8), snr_db=(0.0, 25.0))
TEST = MIMOConfig(mode="grid", num_users_grid=(2, 3, 4), num_antennas_grid=(4, 6, 8),
                  snr_db_grid=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0))  # fmt: skip
GEN = MIMOConfig(mode="grid", num_users_grid=(2, 4, 6, 8), num_antennas_grid=(4, 8, 12, 16),
                 snr_db_grid=(10.0, 20.0))  # fmt: skip


def _write(result: dict) -> None:
    path = Path(result["args"]["results"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)


def _data(work: Path, args: argparse.Namespace, result: dict) -> dict[str, Path]:
    plan = {"train": (TRAIN, args.train_samples, 1), "val": (TRAIN, 2000, 2),
            "test": (TEST, len(TEST.grid_conditions) * args.per_cell, 3),
            "gen": (GEN, len(GEN.grid_conditions) * args.per_cell, 4)}  # fmt: skip
    paths = {}
    for name, (config, n, seed) in plan.items():
        path = work / f"{name}.h5"
        if not path.exists():
            t0 = time.perf_counter()
            simulate("mimo", config, num_samples=n, out=path, seed=seed)
            result["simulate_s"][name] = time.perf_counter() - t0
        paths[name] = path
    return paths


def _timed(fn, *args) -> tuple[float, torch.Tensor]:
    t0 = time.perf_counter()
    with torch.no_grad():
        out = fn(*args)
    return time.perf_counter() - t0, out


def _points(path: Path):
    """``(K, M, snr_db, h, no, user_mask, antenna_mask)`` per grid point of a test file."""
    arrays = read_arrays(path, ["h", "no", "num_users", "num_antennas", "snr_db"])
    groups = sorted({(int(k), int(m), float(s)) for k, m, s in
                     zip(arrays["num_users"], arrays["num_antennas"], arrays["snr_db"],
                         strict=True)})  # fmt: skip
    for k, m, snr in groups:
        sel = (arrays["num_users"] == k) & (arrays["num_antennas"] == m) & \
              (arrays["snr_db"] == np.float32(snr))  # fmt: skip
        h = torch.from_numpy(arrays["h"][sel][:, :k, :m])
        yield k, m, snr, h, torch.from_numpy(arrays["no"][sel]), torch.ones(len(h), k), \
            torch.ones(len(h), m)  # fmt: skip


@torch.no_grad()
def _evaluate(model, path: Path, repeats: int, result: dict, key: str) -> None:
    rows = result.setdefault(key, [])
    for k, m, snr, h, no, um, am in _points(path):
        t_gnn, t_wmmse, iters = [], [], 0
        for _ in range(repeats):  # alternate the two contenders
            dt, v_gnn = _timed(model, h, no, um, am)
            t_gnn.append(dt)
            dt, res = _timed(wmmse, h, no)
            t_wmmse.append(dt)
            iters = res.iterations
        se = {"icgnn": sum_rate(h, v_gnn, no), "wmmse": sum_rate(h, res.v, no)}
        for name, fn in (("rzf", rzf), ("zf", zf), ("mrt", mrt)):
            se[name] = sum_rate(h, fn(h, no), no)
        power = v_gnn.abs().square().sum(dim=(1, 2))
        row = {
            "num_users": k, "num_antennas": m, "snr_db": snr, "samples": len(h),
            **{f"sum_se_{n}": float(v.double().mean()) for n, v in se.items()},
            "ratio_icgnn_wmmse": float(se["icgnn"].double().mean() / se["wmmse"].double().mean()),
            "ratio_rzf_wmmse": float(se["rzf"].double().mean() / se["wmmse"].double().mean()),
            "ms_per_batch_icgnn": 1e3 * statistics.median(t_gnn),
            "ms_per_batch_wmmse": 1e3 * statistics.median(t_wmmse),
            "speedup": statistics.median(t_wmmse) / statistics.median(t_gnn),
            "wmmse_iterations": iters,
            "icgnn_max_power_error": float((power - 1).abs().max()),
        }  # fmt: skip
        rows.append(row)
        _write(result)
        print(
            f"{key} K={k} M={m} {snr:4.1f} dB: icgnn {row['sum_se_icgnn']:.3f} wmmse "
            f"{row['sum_se_wmmse']:.3f} ratio {row['ratio_icgnn_wmmse']:.4f} rzf "
            f"{row['ratio_rzf_wmmse']:.4f} speedup {row['speedup']:.1f}x",
            flush=True,
        )


def _summary(rows: list[dict], snrs: tuple[float, ...]) -> dict:
    sel = [r for r in rows if r["snr_db"] in snrs]
    return {
        "min_ratio_icgnn_wmmse": min(r["ratio_icgnn_wmmse"] for r in sel),
        "mean_ratio_icgnn_wmmse": statistics.mean(r["ratio_icgnn_wmmse"] for r in sel),
        "min_ratio_rzf_wmmse": min(r["ratio_rzf_wmmse"] for r in sel),
        "median_speedup": statistics.median(r["speedup"] for r in sel),
        "min_speedup": min(r["speedup"] for r in sel),
        "groups": len(sel),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snrs = sorted({r["snr_db"] for r in rows})
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name in ("wmmse", "icgnn", "rzf", "zf", "mrt"):
        ys = [statistics.mean(r[f"sum_se_{name}"] for r in rows if r["snr_db"] == s) for s in snrs]
        ax.plot(snrs, ys, marker="o", label=name.upper() if name != "icgnn" else "ICGNN")
    ax.set_xlabel("SNR [dB]")
    ax.set_ylabel("sum SE [bit/s/Hz]")
    ax.set_title("MU-MISO sum SE vs SNR (mean over K in 2..4, M in 4..8)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wml-precoding"))
    parser.add_argument("--budget", default="25m", help="training wall-clock budget")
    parser.add_argument("--train-samples", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=30, help="planned epochs (cosine schedule)")
    parser.add_argument("--per-cell", type=int, default=200, help="test samples per grid point")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared 2-core box)")
    parser.add_argument("--skip-train", action="store_true", help="reuse WORK/run")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of ICGNNConfig.cpu()",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="JSON to write (the PNG goes next to it)"
    )
    args = parser.parse_args()
    model_config = dataclasses.replace(
        ICGNNConfig.cpu(), **parse_overrides(ICGNNConfig, args.overrides)
    )
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    result = {"issue": 7, "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
              "torch_threads": args.threads, "torch": torch.__version__},
              "args": {k: str(v) for k, v in vars(args).items()}, "simulate_s": {},
              "model_config": config_to_dict(model_config)}  # fmt: skip
    _write(result)
    paths = _data(args.work, args, result)
    run = args.work / "run"
    if not args.skip_train:
        config = TrainConfig(epochs=args.epochs, batch_size=128, lr=1e-3, patience=None,
                             max_time_s=parse_duration(args.budget))  # fmt: skip
        meta = train(task="precoding", model_name="icgnn", model_config=model_config,
                     train_path=paths["train"], val_path=paths["val"], out=run, config=config,
                     on_epoch=lambda r: print(f"epoch {r['epoch']} val_sum_se "
                                              f"{r['val_sum_se']:.4f}", flush=True))  # fmt: skip
        result["train"] = {k: meta[k] for k in ("status", "epochs_done", "steps", "best_epoch",
                                                "best_val", "train_time_s", "samples_per_s")}  # fmt: skip
        _write(result)
    _, model, _ = load_run(run)
    _evaluate(model, paths["test"], args.repeats, result, "trained_sizes")
    result["summary_trained_sizes"] = _summary(result["trained_sizes"], (10.0, 20.0))
    _plot(result["trained_sizes"], args.results.with_name("precoding_se_vs_snr.png"))
    _write(result)
    _evaluate(model, paths["gen"], args.repeats, result, "generalization")
    unseen = [r for r in result["generalization"] if r["num_users"] > 4 or r["num_antennas"] > 8]
    result["summary_generalization_unseen"] = _summary(unseen, (10.0, 20.0))
    result["summary_generalization_all"] = _summary(result["generalization"], (10.0, 20.0))
    _write(result)
    print(json.dumps({k: v for k, v in result.items() if k.startswith("summary")}, indent=1))


if __name__ == "__main__":
    main()
