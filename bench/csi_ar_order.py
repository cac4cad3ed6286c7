"""The per-sample AR predictor's order against SNR on a csi-series test file (no training).

For each AWGN level and AR order, two averages of the per-sample NMSE (mean over ports and
steps of the per-vector ratio): the linear mean, then dB (the protocol's definition, which
a few blown-up roll-outs dominate), and the mean of the per-sample dB values (the typical
sample; the ``nmse-db`` training loss). With ``--max-gain``, roll-outs that grow past that
power ratio fall back to the last snapshot (the AR skip's 4.0).

Usage::

    python bench/csi_ar_order.py --data tdd_test.h5 [--max-gain 4]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from wirelessml.datasets import H5Dataset
from wirelessml.nn.linear_prediction import ar_predict
from wirelessml.tasks.csi_noise import awgn
from wirelessml.tasks.csi_prediction import sample_nmse

RESULTS = Path(__file__).parent / "results" / "csi_ar_order.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="csi-series test file")
    parser.add_argument("--orders", default="2,4,6,8,12")
    parser.add_argument("--snr-db", default="0,10,20,25")
    parser.add_argument("--max-gain", type=float, default=None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    orders = [int(p) for p in args.orders.split(",")]
    snrs = [float(s) for s in args.snr_db.split(",")]
    data = H5Dataset(args.data, fields=("h_hist", "h_future"))
    gen = torch.Generator().manual_seed(0)
    per: dict[tuple[float, int], list[torch.Tensor]] = {(s, p): [] for s in snrs for p in orders}
    for start in range(0, len(data), 200):
        batch = data.read_batch(range(start, min(start + 200, len(data))))
        for snr in snrs:
            h = awgn(batch["h_hist"], torch.full((batch["h_hist"].shape[0],), snr), generator=gen)
            for p in orders:
                pred = ar_predict(h, batch["h_future"].shape[2], order=p, max_gain=args.max_gain)
                per[(snr, p)].append(sample_nmse(pred, batch["h_future"]))
    rows = []
    for (snr, p), parts in per.items():
        e = torch.cat(parts).double()
        rows.append({"snr_db": snr, "order": p, "nmse_db_linear_mean": 10 * math.log10(e.mean()),
                     "mean_of_db": float((10 * e.log10()).mean())})  # fmt: skip
        print(f"SNR {snr:4g} dB  AR({p:2d})  linear mean {rows[-1]['nmse_db_linear_mean']:6.2f} dB"
              f"  mean of dB {rows[-1]['mean_of_db']:6.2f} dB")  # fmt: skip
    out = {"data": str(args.data), "samples": len(data), "max_gain": args.max_gain, "rows": rows}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=1) + "\n")
    print(f"results: {args.results}")


if __name__ == "__main__":
    main()
