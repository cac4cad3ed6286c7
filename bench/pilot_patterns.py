"""What the pilot pattern allows: LS and genie-LMMSE NMSE for candidate pilot patterns.

Genie LMMSE (each sample's true delay spread and Doppler) is the MMSE estimator for the
Gaussian TDL channel, so no trained estimator can beat it by more than noise: its gain over
LS bounds the issue-3 target "8 dB better than LS at 0 dB SNR" and its NMSE at 500 Hz /
200 ns bounds the issue-4 BLER gap to perfect CSI. NMSE = 10 log10(mean over samples of
||h_hat - h||^2 / ||h||^2); SNR = 10 log10(1/no) per resource element.

    python bench/pilot_patterns.py --samples 256 --results bench/results/pilot_patterns.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from wirelessml.datasets import read_info
from wirelessml.efficiency.measure import load_batches
from wirelessml.registry import get_task

PATTERNS = {  # name -> --set overrides of the ofdm simulator
    "symbols 2,11, every 10th subcarrier (default, reference config)": [],
    "symbols 2,11, every 3rd subcarrier (reference generator default)": ["pilot_spacing=3"],
    "symbols 2,5,8,11, every 10th subcarrier": ["pilot_ofdm_symbols=(2,5,8,11)"],
    "symbols 2,5,8,11, every 6th subcarrier": ["pilot_ofdm_symbols=(2,5,8,11)", "pilot_spacing=6"],
}
CONDITIONS = {
    "SNR 0 dB, Doppler 200-1000 Hz, DS 50-300 ns": [
        "snr_db=(0,0)",
        "doppler_hz=(200,1000)",
        "delay_spread_ns=(50,300)",
    ],  # fmt: skip
    "SNR 10 dB, 500 Hz, 200 ns (issue-4 channel)": [
        "snr_db=(10,10)",
        "doppler_hz=(500,500)",
        "delay_spread_ns=(200,200)",
    ],  # fmt: skip
}


def nmse_db(task, estimator, batches) -> float:
    ratios = []
    for batch in batches:
        h_hat, h = task.predict(estimator, batch), task.target(batch)
        err = (h_hat - h).abs().square().flatten(1).sum(1)
        ratios.append(err / h.abs().square().flatten(1).sum(1))
    return float(10 * torch.log10(torch.cat(ratios).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", type=Path, default=Path("bench/results/pilot_patterns.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = get_task("channel-estimation")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for pattern, sets in PATTERNS.items():
            for condition, csets in CONDITIONS.items():
                path = Path(tmp) / "d.h5"
                cmd = ["wirelessml", "simulate", "ofdm", "-n", str(args.samples), "-o", str(path),
                       "-q", "--overwrite", "--seed", str(args.seed)]  # fmt: skip
                for s in sets + csets:
                    cmd += ["--set", s]
                subprocess.run(cmd, check=True)
                info, batches = read_info(path), load_batches(path, task.eval_fields)
                row = {"pattern": pattern, "condition": condition, "set": sets + csets}
                for name in ("ls", "lmmse-genie"):
                    row[f"{name}_nmse_db"] = nmse_db(task, task.build_baseline(name, info), batches)
                row["genie_gain_over_ls_db"] = row["ls_nmse_db"] - row["lmmse-genie_nmse_db"]
                rows.append(row)
                print(f"{pattern:66s} | {condition:45s} | LS {row['ls_nmse_db']:6.2f} | genie "
                      f"{row['lmmse-genie_nmse_db']:6.2f} | gain {row['genie_gain_over_ls_db']:5.2f} dB",
                      flush=True)  # fmt: skip
    result = {"definition": __doc__.split("\n\n")[1], "samples": args.samples, "seed": args.seed,
              "machine": {"platform": platform.platform(), "torch": torch.__version__}, "rows": rows}  # fmt: skip
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
