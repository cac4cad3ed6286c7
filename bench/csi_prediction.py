"""Benchmark of issue 5: CSI-4CAST against GRU, LSTM, a plain Transformer, AR and no prediction.

Steps (each result is written to the JSON as soon as it exists; a rerun skips what is
done, resumes a half-written dataset and continues an interrupted training with the rest
of its budget):

1. Simulate the ``small`` preset (8 ports, 50 + 25 + 50 subcarriers), for TDD and FDD:
   training and validation on the reference's training grid (CDL-A/C/D x delay spread
   {30, 100, 300} ns x speed {1, 10, 30} m/s), and a test grid over CDL-A..E x delay
   spread {30, 50, 100, 200, 300, 400} ns x speed {1, 3, 6, 10, 15, 20, 30, 45} m/s.
2. Train every learned model (``cpu`` sizes) with the one training loop, each for a
   wall-clock budget, its epochs planned from a timed step so that the cosine learning
   rate anneals within the budget (``--budget`` for CSI-4CAST, ``--baseline-budget`` for the others;
   defaults 28 and 10 minutes: 2 x 28 + 6 x 10 = 116 min in total for TDD and FDD; the
   reference model gets the larger share, being 5-6x slower per sample on this CPU).
3. Evaluate the protocol (regular / robustness / generalization, reference noise levels)
   with ``wirelessml.evaluate``: per-scenario NMSE per step, share of scenarios each model
   is best, SE, FLOPs and parameters; report folders with the heat map.

Optionally (``--paper-samples N``) time the ``paper`` preset (32 ports, 300 + 150 + 300
subcarriers) on N samples: seconds per 1000 samples and bytes on disk per sample.

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python bench/csi_prediction.py --work /tmp/wml-csi
    # smoke test (tiny sizes and budgets):
    OMP_NUM_THREADS=1 python bench/csi_prediction.py --work /tmp/wml-csi-smoke --quick
    # training split over two cores, then one run evaluates (docs/benchmarks.md, AR skip):
    B="python bench/csi_prediction.py --work W --duplex tdd --skip-evaluate --loss nmse-db"
    $B --results a.json --models csi4cast --model-set csi4cast:ar_skip=True --budget 75m &
    $B --results b.json --models gru,lstm,csi-transformer --baseline-budget 15m
    python bench/csi_prediction.py --work W --duplex tdd --loss nmse-db --threads 2 \
        --model-set csi4cast:ar_skip=True --results bench/results/csi_prediction_arskip.json
    # the gated variants (docs/benchmarks.md): add to every command
    #   --model-set csi4cast:ar_gate=True [--model-set csi4cast:gate_correction=True]
    # the learned AR selector (the best so far) adds to those two
    #   --model-set csi4cast:ar_select=True --model-set csi4cast:select_gate=True
    #   --model-set csi4cast:select_shrink=True
    # then bench/csi_share.py recounts the shares without a baseline (e.g. ar-select)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from wirelessml.api import simulate
from wirelessml.cli.train import build_model_config, parse_duration
from wirelessml.datasets import H5Dataset, read_info
from wirelessml.evaluate import evaluate
from wirelessml.evaluate.csi_protocol import (
    CSIProtocolConfig,
    format_protocol,
    write_protocol_reports,
)
from wirelessml.registry import get_model, get_task
from wirelessml.simulators import CSISeriesConfig
from wirelessml.train import TrainConfig, train
from wirelessml.train.run import read_run_meta

RESULTS = Path(__file__).parent / "results" / "csi_prediction.json"

MODELS = ("csi4cast", "gru", "lstm", "csi-transformer")
TRAIN_GRID = dict(mode="grid", channel_models=("cdl-a", "cdl-c", "cdl-d"),
                  delay_spread_ns_grid=(30.0, 100.0, 300.0), speed_mps_grid=(1.0, 10.0, 30.0))  # fmt: skip
TEST_GRID = dict(mode="grid", channel_models=("cdl-a", "cdl-b", "cdl-c", "cdl-d", "cdl-e"),
                 delay_spread_ns_grid=(30.0, 50.0, 100.0, 200.0, 300.0, 400.0),
                 speed_mps_grid=(1.0, 3.0, 6.0, 10.0, 15.0, 20.0, 30.0, 45.0))  # fmt: skip


def _write(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)


def _simulate(path: Path, config: CSISeriesConfig, n: int, seed: int) -> float | None:
    """Simulate unless complete; resume a partial file. Returns seconds spent (None: skipped)."""
    if path.exists():
        return None
    partial = path.with_name(path.name + ".partial")
    t0 = time.perf_counter()
    simulate("csi-series", config, num_samples=n, out=path, seed=seed,
             mode="resume" if partial.exists() else "create")  # fmt: skip
    return time.perf_counter() - t0


def _data(work: Path, duplex: str, args: argparse.Namespace, result: dict) -> dict[str, Path]:
    train_cfg = CSISeriesConfig(duplex=duplex, **TRAIN_GRID)
    test_cfg = CSISeriesConfig(duplex=duplex, **TEST_GRID)
    if args.quick:
        test_cfg = dataclasses.replace(test_cfg, channel_models=("cdl-a", "cdl-b"),
                                       delay_spread_ns_grid=(30.0, 300.0),
                                       speed_mps_grid=(1.0, 10.0, 45.0))  # fmt: skip
    n_train = len(train_cfg.grid_conditions) * args.train_per_cell
    n_val = len(train_cfg.grid_conditions) * args.val_per_cell
    n_test = len(test_cfg.grid_conditions) * args.test_per_cell
    plan = {"train": (train_cfg, n_train, 1), "val": (train_cfg, n_val, 2),
            "test": (test_cfg, n_test, 3)}  # fmt: skip
    paths = {}
    for name, (config, n, seed) in plan.items():
        path = work / f"{duplex}_{name}.h5"
        seconds = _simulate(path, config, n, seed)
        if seconds is not None:
            result["simulate"][f"{duplex}_{name}"] = {"samples": n, "seconds": seconds,
                                                      "bytes": path.stat().st_size}  # fmt: skip
            _write(result, args.results)
        paths[name] = path
    return paths


def _plan_epochs(
    task, model: str, model_config, train_path: Path, budget_s: float, args: argparse.Namespace
) -> int:  # noqa: ANN001
    """Epochs that the budget holds at the speed of bare training steps, so the cosine
    schedule anneals within the budget; ``--epochs`` is the upper bound.

    The loop runs slower than bare steps (data, noise, validation, checkpoints: about
    0.65x here), so the plan errs long: the budget ends the run at about two thirds of the
    schedule (learning rate near a quarter of its peak) rather than the plan ending it
    early and leaving budget unused."""
    entry = get_model(model)
    net = entry.model_cls(model_config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr)
    data = H5Dataset(train_path, fields=task.fields)
    batch = data.read_batch(range(16))
    data.close()
    times = []
    for _ in range(11):
        t0 = time.perf_counter()
        loss = task.loss(net(**task.model_inputs(batch)), task.target(batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - t0)
    samples_per_s = 16 / statistics.median(times[3:])
    epochs = math.ceil(budget_s * samples_per_s / len(data))
    return max(2, min(args.epochs, epochs))


def _train(work: Path, duplex: str, model: str, paths: dict, budget_s: float,
           args: argparse.Namespace, result: dict) -> Path:  # fmt: skip
    out = work / "runs" / f"{duplex}_{model}"
    key = f"{duplex}_{model}"
    resume = (out / "run.json").exists()
    task = get_task("csi-prediction")
    sets = tuple(item.split(":", 1)[1] for item in args.model_set if item.split(":", 1)[0] == model)
    model_config = task.fit_model_config(build_model_config(model, "cpu", sets), paths["train"])
    if resume:
        meta = read_run_meta(out)
        if meta["status"] in ("finished", "stopped-early", "time-budget"):
            # done (here, or by another process of this script: --models splits the work)
            if key not in result["train"]:
                _record_train(result, key, meta, meta["train_config"]["_data"])
                _write(result, args.results)
            return out
        budget_s = max(1.0, budget_s - meta["train_time_s"])
        epochs = meta["train_config"]["_data"]["epochs"]  # a resume must keep the plan
    else:
        epochs = _plan_epochs(task, model, model_config, paths["train"], budget_s, args)
    config = TrainConfig(epochs=epochs, batch_size=16, lr=args.lr, patience=args.patience,
                         max_time_s=budget_s, checkpoint_every_steps=100, loss=args.loss,
                         seed=args.seed)  # fmt: skip
    summary = train(task=task, model_name=model, model_config=model_config,
                    train_path=paths["train"], val_path=paths["val"], out=out, config=config,
                    resume=resume)  # fmt: skip
    _record_train(result, key, summary, {"max_time_s": budget_s, "epochs": epochs})
    _write(result, args.results)
    return out


def _record_train(result: dict, key: str, summary: dict, plan: dict) -> None:
    result["train"][key] = {k: summary[k] for k in ("status", "epochs_done", "steps",
                            "best_epoch", "best_val", "train_time_s", "samples_seen",
                            "samples_per_s")}  # fmt: skip
    result["train"][key].update(budget_s=plan["max_time_s"], planned_epochs=plan["epochs"])


def _evaluate(work: Path, duplex: str, runs: list[Path], paths: dict, args: argparse.Namespace,
              result: dict) -> None:  # fmt: skip
    if duplex in result["evaluate"]:
        return
    protocol = CSIProtocolConfig(batch_size=64)
    if args.quick:
        protocol = CSIProtocolConfig(awgn_snr_db=(10.0, 20.0), phase_snr_db=(15.0,),
                                     burst_snr_db=(15.0,), drop_p=(0.05,), batch_size=64)  # fmt: skip
    t0 = time.perf_counter()
    report = evaluate(runs, paths["test"], protocol=protocol)
    folder = work / f"eval_{duplex}"
    write_protocol_reports(report, folder)
    print(format_protocol(report, scenarios=False), flush=True)
    result["evaluate"][duplex] = {"summary": report["summary"], "cost": report["estimators"],
                                  "seconds": time.perf_counter() - t0, "report": str(folder),
                                  "heatmap": report["heatmap"]}  # fmt: skip
    _write(result, args.results)


def _paper_preset(work: Path, n: int, result: dict, results_path: Path) -> None:
    if n <= 0 or "paper_preset" in result:
        return
    path = work / "paper_fdd.h5"
    if path.exists():
        path.unlink()
    config = CSISeriesConfig(preset="paper", duplex="fdd")
    t0 = time.perf_counter()
    simulate("csi-series", config, num_samples=n, out=path, seed=5)
    seconds = time.perf_counter() - t0
    info = read_info(path)
    size = path.stat().st_size
    result["paper_preset"] = {
        "samples": n, "seconds": seconds, "seconds_per_1000": 1000.0 * seconds / n,
        "bytes_per_sample": size / n, "gb_per_1000": size / n * 1000 / 1e9,
        "fields": {k: list(f.shape) for k, f in info.fields.items()},
    }  # fmt: skip
    _write(result, results_path)
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (data, runs)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--budget", default="28m", help="training budget of CSI-4CAST")
    parser.add_argument("--baseline-budget", default="10m", help="budget of GRU/LSTM/Transformer")
    parser.add_argument("--duplex", default="tdd,fdd")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--train-per-cell", type=int, default=150)
    parser.add_argument("--val-per-cell", type=int, default=10)
    parser.add_argument("--test-per-cell", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0,
                        help="training seed (initialization, batch order) of every model")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--loss", default=None, choices=get_task("csi-prediction").losses,
                        help="training loss of every model (default: the task's, nmse)")  # fmt: skip
    parser.add_argument("--model-set", action="append", default=[], metavar="MODEL:FIELD=VALUE",
                        help="override a model config field, e.g. csi4cast:ar_skip=True")  # fmt: skip
    parser.add_argument("--skip-evaluate", action="store_true",
                        help="train only; a later run with every model evaluates (so two "
                        "processes with --models split the training over two cores)")  # fmt: skip
    parser.add_argument("--paper-samples", type=int, default=0,
                        help="also time the paper preset on this many samples")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    args = parser.parse_args()
    for item in args.model_set:
        if item.split(":", 1)[0] not in MODELS or "=" not in item:
            parser.error(f"--model-set {item!r}: expected MODEL:FIELD=VALUE, MODEL one of "
                         + ", ".join(MODELS))  # fmt: skip
    if args.quick:
        args.train_per_cell, args.val_per_cell, args.test_per_cell = 4, 2, 2
        args.epochs = 2
        if args.results == RESULTS:  # never overwrite the real benchmark's JSON
            args.results = args.work / "csi_prediction_quick.json"
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    result = json.loads(args.results.read_text()) if args.results.exists() else {}
    result.setdefault("simulate", {})
    result.setdefault("train", {})
    result.setdefault("evaluate", {})
    result["machine"] = {"python": platform.python_version(), "torch": torch.__version__,
                         "threads": args.threads, "cpu": platform.processor() or platform.machine()}  # fmt: skip
    result["command"] = " ".join(["python", "bench/csi_prediction.py", *sys.argv[1:]])
    _write(result, args.results)
    budgets = {m: parse_duration(args.budget if m == "csi4cast" else args.baseline_budget)
               for m in MODELS}  # fmt: skip
    for duplex in args.duplex.split(","):
        paths = _data(args.work, duplex, args, result)
        runs = [_train(args.work, duplex, m, paths, budgets[m], args, result)
                for m in args.models.split(",")]  # fmt: skip
        if not args.skip_evaluate:
            _evaluate(args.work, duplex, runs, paths, args, result)
    result["total_train_s"] = sum(v["train_time_s"] for v in result["train"].values())
    _write(result, args.results)
    _paper_preset(args.work, args.paper_samples, result, args.results)
    print(f"results: {args.results}")


if __name__ == "__main__":
    main()
