"""ICGNN vs WMMSE inference time per batch, point by point (issue 7).

Times one call on all samples of each (K, M, SNR) point of a precoding file (with ``--all``
every point, else only the sizes beyond training, K > 4 or M > 8), ICGNN and WMMSE
alternating (one warm-up call each, then the median of --repeats), torch on --threads threads. Meant for a quiet machine: bench/precoding.py measures the same
ratio with 3 repeats during its evaluation, which on this 2-core box usually shares the CPU.

    OMP_NUM_THREADS=1 python bench/precoding_speed.py --run /tmp/h7n/prec/run \\
        --data /tmp/h7n/prec/gen.h5 --results bench/results/precoding_speed_quiet.json
    OMP_NUM_THREADS=1 python bench/precoding_speed.py --run /tmp/h7n/prec/run --all \\
        --data /tmp/h7n/prec/test.h5 --results bench/results/precoding_speed_trained.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch
from precoding import _points, _timed  # bench/precoding.py, the script's own folder

from wirelessml.tasks.precoding_baselines import wmmse
from wirelessml.train import load_run


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="trained ICGNN run folder")
    parser.add_argument("--data", type=Path, required=True, help="mimo generalization file")
    parser.add_argument("--all", action="store_true", help="time every point of --data")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    _, model, _ = load_run(args.run)
    result = {"machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "threads": args.threads}, "repeats": args.repeats, "rows": []}  # fmt: skip
    for k, m, snr, h, no, um, am in _points(args.data):
        if k <= 4 and m <= 8 and not args.all:
            continue
        model(h, no, um, am)  # warm-up
        iterations = wmmse(h, no).iterations
        t_gnn: list[float] = []
        t_wmmse: list[float] = []
        for _ in range(args.repeats):  # alternate the two contenders
            t_gnn.append(_timed(model, h, no, um, am)[0])
            t_wmmse.append(_timed(wmmse, h, no)[0])
        row = {"num_users": k, "num_antennas": m, "snr_db": snr, "samples": len(h),
               "ms_per_batch_icgnn": 1e3 * statistics.median(t_gnn),
               "ms_per_batch_wmmse": 1e3 * statistics.median(t_wmmse),
               "wmmse_iterations": iterations,
               "speedup": statistics.median(t_wmmse) / statistics.median(t_gnn)}  # fmt: skip
        result["rows"].append(row)
        args.results.write_text(json.dumps(result, indent=1))
        print(f"K={k} M={m} {snr:4.1f} dB: ICGNN {row['ms_per_batch_icgnn']:.1f} ms, WMMSE "
              f"{row['ms_per_batch_wmmse']:.0f} ms ({iterations} it.), {row['speedup']:.1f}x",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
