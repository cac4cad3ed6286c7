"""Benchmark of issue 7, cell-free part: ICGNN power allocation against equal power and FPC.

Steps (resumable: existing data files and a finished run are reused; each result is
written to the JSON as soon as it exists):

1. ``data``: simulate (``cellfree``, Sionna UMi, 500 m square, 23 dBm per AP) a training
   set (L in [4, 8] APs, N in [1, 4] antennas, K in [2, 6] users), a validation set, and
   one test file per (L, K) point with N in [1, 4]: trained sizes and sizes up to twice
   the largest trained L and K (and one point with N = 8).
2. ``train``: ICGNN (``icgnn-cellfree``, ``cpu`` size) on ``cellfree-power`` (negative sum
   SE) with the one training loop for a wall-clock budget.
3. ``eval``: per test point, mean sum SE and min rate of ICGNN, equal power and FPC
   (``nu = 0.5``), ICGNN's ratio to each, the largest per-AP power, and the time per batch
   (one call on the point's samples, the three alternating, median of ``--repeats``); for
   reference also FPC with ``nu`` in 1, 2, 4 (sum rate favours concentrating each AP's
   power on its strongest users).

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python bench/cellfree.py --work /tmp/wml-cellfree --budget 25m
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
from precoding import _timed  # bench/precoding.py, the script's own folder

from wirelessml.api import simulate
from wirelessml.cli.train import parse_duration
from wirelessml.datasets import read_arrays
from wirelessml.models.icgnn_cellfree import CellFreeICGNNConfig
from wirelessml.simulators import CellFreeConfig
from wirelessml.tasks.cellfree_baselines import cellfree_precoder, equal_power, fractional_power
from wirelessml.tasks.precoding_baselines import user_rates
from wirelessml.train import TrainConfig, load_run, train

RESULTS = Path(__file__).parent / "results" / "cellfree.json"

TRAIN = CellFreeConfig(num_aps=(4, 8), num_ap_antennas=(1, 4), num_users=(2, 6))
# (L, K, N range): trained sizes, then up to twice the largest trained L and K
POINTS: list[tuple[int, int, tuple[int, int]]] = [
    (4, 2, (1, 4)), (4, 6, (1, 4)), (6, 4, (1, 4)), (8, 2, (1, 4)), (8, 6, (1, 4)),
    (8, 12, (1, 4)), (16, 6, (1, 4)), (12, 9, (1, 4)), (16, 12, (1, 4)), (8, 6, (8, 8)),
]  # fmt: skip
FIELDS = ["h", "beta", "no", "user_mask", "ap_mask", "antenna_mask"]
FPC_SWEEP = (1.0, 2.0, 4.0)


def _write(result: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, RESULTS)


def _point_name(ell: int, k: int, n: tuple[int, int]) -> str:
    return f"test_L{ell}_K{k}_N{n[0]}-{n[1]}"


def _data(work: Path, args: argparse.Namespace, result: dict) -> dict[str, Path]:
    plan = {"train": (TRAIN, args.train_samples, 1), "val": (TRAIN, 1000, 2)}
    for i, (ell, k, n) in enumerate(POINTS):
        config = CellFreeConfig(num_aps=(ell, ell), num_users=(k, k), num_ap_antennas=n)
        plan[_point_name(ell, k, n)] = (config, args.per_point, 10 + i)
    paths = {}
    for name, (config, num, seed) in plan.items():
        path = work / f"{name}.h5"
        if not path.exists():
            t0 = time.perf_counter()
            simulate("cellfree", config, num_samples=num, out=path, seed=seed)
            result["simulate_s"][name] = time.perf_counter() - t0
            _write(result)
            print(f"simulated {name}: {num} samples in {time.perf_counter() - t0:.0f} s",
                  flush=True)  # fmt: skip
        paths[name] = path
    return paths


def _train(paths: dict[str, Path], run: Path, args: argparse.Namespace, result: dict) -> None:
    meta_path = run / "run.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("status") != "running":
        print(f"reusing the finished run {run}", flush=True)
        return
    config = TrainConfig(epochs=args.epochs, batch_size=128, lr=args.lr, patience=None,
                         max_time_s=parse_duration(args.budget))  # fmt: skip
    meta = train(task="cellfree-power", model_name="icgnn-cellfree",
                 model_config=CellFreeICGNNConfig.cpu(), train_path=paths["train"],
                 val_path=paths["val"], out=run, config=config, resume=meta_path.exists(),
                 on_epoch=lambda r: print(f"epoch {r['epoch']} val_sum_se "
                                          f"{r['val_sum_se']:.4f}", flush=True))  # fmt: skip
    result["train"] = {k: meta[k] for k in ("status", "epochs_done", "steps", "best_epoch",
                                            "best_val", "train_time_s", "samples_per_s")}  # fmt: skip
    _write(result)


@torch.no_grad()
def _evaluate_point(model, path: Path, point: tuple, repeats: int) -> dict:
    b = {k: torch.from_numpy(v) for k, v in read_arrays(path, FIELDS).items()}
    h, beta, no = b["h"], b["beta"], b["no"]
    methods = {
        "icgnn": lambda: model(h, beta, no, b["user_mask"], b["ap_mask"], b["antenna_mask"]),
        "equal": lambda: cellfree_precoder(h, equal_power(beta)),
        "fpc": lambda: cellfree_precoder(h, fractional_power(beta, 0.5)),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    out = {}
    for _ in range(repeats):  # alternate the contenders
        for name, fn in methods.items():
            dt, out[name] = _timed(fn)
            times[name].append(dt)
    for nu in FPC_SWEEP:  # stronger FPC exponents, for reference (not timed)
        out[f"fpc_nu{nu:g}"] = cellfree_precoder(h, fractional_power(beta, nu))
    g = (h / no.sqrt()[:, None, None, None]).flatten(2)
    one = torch.ones(len(h))
    rates = {name: user_rates(g, v, one) for name, v in out.items()}
    se = {name: r.sum(-1).double() for name, r in rates.items()}
    eta = model.power(beta, no, b["user_mask"], b["ap_mask"], b["antenna_mask"])
    ell, k, n = point
    row = {"num_aps": ell, "num_users": k, "num_ap_antennas": list(n), "samples": len(h),
           **{f"sum_se_{m}": float(v.mean()) for m, v in se.items()},
           **{f"min_rate_{m}": float(r.amin(-1).double().mean()) for m, r in rates.items()},
           "ratio_icgnn_equal": float(se["icgnn"].mean() / se["equal"].mean()),
           "ratio_icgnn_fpc": float(se["icgnn"].mean() / se["fpc"].mean()),
           "ratio_icgnn_best_fpc_nu": float(se["icgnn"].mean() / max(
               v.mean() for name, v in se.items() if name.startswith("fpc"))),
           "share_samples_icgnn_beats_both": float(((se["icgnn"] > se["equal"]) &
                                                    (se["icgnn"] > se["fpc"])).double().mean()),
           "icgnn_max_ap_power": float(eta.sum(1).max()),
           "icgnn_mean_unused_power": float(1 - eta.sum(1)[b["ap_mask"] > 0].mean()),
           **{f"ms_per_batch_{m}": 1e3 * statistics.median(t) for m, t in times.items()}}  # fmt: skip
    return row


def _evaluate(model, paths: dict[str, Path], repeats: int, result: dict) -> None:
    rows = result["points"] = []
    for point in POINTS:
        row = _evaluate_point(model, paths[_point_name(*point)], point, repeats)
        row["trained_size"] = point[0] <= TRAIN.num_aps[1] and point[1] <= TRAIN.num_users[1] \
            and point[2][1] <= TRAIN.num_ap_antennas[1]  # fmt: skip
        rows.append(row)
        _write(result)
        print(f"L={point[0]} K={point[1]} N={point[2]}: icgnn {row['sum_se_icgnn']:.3f} equal "
              f"{row['sum_se_equal']:.3f} fpc {row['sum_se_fpc']:.3f} "
              f"({row['ratio_icgnn_equal']:.3f}x / {row['ratio_icgnn_fpc']:.3f}x) "
              f"{row['ms_per_batch_icgnn']:.1f} ms", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/wml-cellfree"))
    parser.add_argument("--parts", default="data,train,eval", help="comma list of the steps")
    parser.add_argument("--budget", default="25m", help="training wall-clock budget")
    parser.add_argument("--train-samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=25, help="planned epochs (cosine schedule)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--per-point", type=int, default=200, help="test samples per point")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared 2-core box)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result.update({"issue": 7, "part": "cell-free power allocation",
                   "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                               "torch_threads": args.threads, "torch": torch.__version__},
                   "args": {k: str(v) for k, v in vars(args).items()}})  # fmt: skip
    result.setdefault("simulate_s", {})
    paths = _data(args.work, args, result)
    run = args.work / "run"
    if "train" in parts:
        _train(paths, run, args, result)
    if "eval" in parts:
        _, model, meta = load_run(run)
        result["train"] = {k: meta[k] for k in ("status", "epochs_done", "steps", "best_epoch",
                                                "best_val", "train_time_s", "samples_per_s")}  # fmt: skip
        _evaluate(model, paths, args.repeats, result)
        _write(result)


if __name__ == "__main__":
    main()
