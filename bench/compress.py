"""Compression of the trained AdaFortiTran (issue 8): int8, 50 % pruning + distillation, ONNX.

Every case goes through :func:`wirelessml.efficiency.compress` (what ``wirelessml compress``
runs): NMSE on the test grid before and after, size of ``model.safetensors``, FLOPs per
frame, CPU ms per frame of the original and the compressed model timed alternately in the
same process (median of the repeats, batch of ``--latency-frames`` frames, ``--threads``
intra-op threads).

    python bench/compress.py --run /work/bench3/runs/ada --test /work/bench3/test.h5 \\
        --val /work/bench3/val.h5 --train /work/bench3/train.h5 --work /tmp/compress \\
        [--finetune-samples 20000] [--finetune-epochs 2] [--cases int8-static,...] [--resume]

The prune case's fine-tuning is checkpointed in ``--work/prune`` every 2 minutes: after a
kill, the same command with ``--resume`` continues it.

Prints and writes ``bench/results/compress.json`` after every case.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import torch

from wirelessml.efficiency import compress

RESULTS = Path(__file__).parent / "results" / "compress.json"
CASES = ("int8-static", "int8-dynamic", "int8-weight", "onnx", "prune")


def _training_running() -> bool:
    found = subprocess.run(["pgrep", "-f", "wirelessml train"], capture_output=True, text=True)
    return bool(found.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--work", required=True, help="Folder for the compressed runs.")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--prune-ratio", type=float, default=0.5)
    parser.add_argument("--finetune-samples", type=int, default=20000)
    parser.add_argument("--finetune-epochs", type=int, default=2)
    parser.add_argument("--calibration-samples", type=int, default=256)
    parser.add_argument("--latency-frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted fine-tuning of the prune case in --work",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # compress() runs the whole case at this count
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                                 "torch": torch.__version__, "processor": platform.processor()},
                     "cases": {}}  # fmt: skip
    for case in args.cases.split(","):
        out = work / case
        resume = args.resume and case == "prune" and (out / "checkpoint").is_dir()
        if not resume:
            shutil.rmtree(out, ignore_errors=True)
        kwargs: dict = {}
        if case.startswith("int8"):
            kwargs = {"quantize": case, "calibration": args.val,
                      "calibration_samples": args.calibration_samples}  # fmt: skip
        elif case == "onnx":
            kwargs = {"export": "onnx"}
        elif case == "prune":
            kwargs = {"prune": args.prune_ratio, "finetune_epochs": args.finetune_epochs,
                      "train": args.train, "finetune_samples": args.finetune_samples}  # fmt: skip
        contention = _training_running()
        t0 = time.perf_counter()
        report = compress(args.run, data=args.test, out=out, latency_frames=args.latency_frames,
                          latency_repeats=args.repeats, threads=args.threads, progress=False,
                          resume=resume,
                          **kwargs)  # fmt: skip
        report.pop("by_snr", None)
        report["training_job_running"] = contention or _training_running()
        report["wall_s"] = time.perf_counter() - t0
        report["args"] = {k: str(v) for k, v in vars(args).items()}
        results["cases"][case] = report
        r = report["ratios"]
        print(f"{case}: size {r['size']:.2f}x, speed {r['speed']:.2f}x "
              f"({report['before']['ms_per_frame']:.2f} -> {report['after']['ms_per_frame']:.2f} "
              f"ms/frame), FLOPs -{100 * r['flops_reduction']:.1f} %, NMSE "
              f"{report['before']['metrics']['nmse_db']:.3f} -> "
              f"{report['after']['metrics']['nmse_db']:.3f} dB ({r['nmse_loss_db']:+.3f})"
              + (f", ONNX max rel err {report['onnx']['max_rel_error']:.2e}"
                 if "onnx" in report else ""), flush=True)  # fmt: skip
        _write(args.results, results)


def _write(path: Path, results: dict) -> None:
    """Write ``results``, keeping the cases of other invocations already in the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        results = {**results, "cases": {**json.loads(path.read_text()).get("cases", {}),
                                        **results["cases"]}}  # fmt: skip
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
