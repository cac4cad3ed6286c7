"""What a gated CSI-4CAST's AR skip does against SNR (a trained run, a csi-series test file).

For each AWGN level, over every ``--stride``-th test sample: the per-sample NMSE (mean over
ports and steps of the per-vector ratio) of the AR(4) fit on the noisy rows (the ``ar``
baseline's input), of the same fit on the denoised rows, and of the full model; each as
the linear mean (then dB) and as the mean of the per-sample dB values. With ``ar_gate``,
the median and 10/90 % quantiles of the gate's weight on the noisy rows' fit, and with
``gate_correction`` of the gain on the network's correction. With ``select_gate``, what the
learned AR selector does: its sharpness, its weight on the noisy rows' candidates and per
order, its scale on the skip (``select_shrink``) and the NMSE of the skip alone.

Usage::

    python bench/csi_gate.py --run runs/tdd_csi4cast --data tdd_test.h5 --results out.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from wirelessml.datasets import H5Dataset
from wirelessml.models.csi_common import AR_SELECT_ORDERS
from wirelessml.tasks.csi_noise import awgn
from wirelessml.tasks.csi_prediction import sample_nmse
from wirelessml.train.run import load_run


def _nmse(h_hat: torch.Tensor, h: torch.Tensor) -> dict[str, float]:
    e = sample_nmse(h_hat, h).double()
    return {"linear_mean_db": 10 * math.log10(float(e.mean())),
            "mean_of_db": float((10 * e.log10()).mean())}  # fmt: skip


def _quantiles(x: torch.Tensor) -> list[float]:
    return [float(x.quantile(q)) for q in (0.1, 0.5, 0.9)]


@torch.no_grad()
def _level(model, h: torch.Tensor, h_future: torch.Tensor, snr: float, gen) -> dict:  # noqa: ANN001
    noisy = awgn(h, torch.full((h.shape[0],), snr), generator=gen)
    batch, skip = h.shape[0], model.skip
    rows, scale = model.edge.to_rows(noisy)
    den = model.denoiser(rows)

    def back(ar: torch.Tensor) -> torch.Tensor:
        return model.edge.from_rows(ar.reshape(rows.shape[0], -1, rows.shape[2]), scale, batch)

    if skip.gate is not None:
        ar_den, ar_raw, g = skip.gate_parts(den, batch, rows)
    else:
        (ar_den, _), (ar_raw, _), g = skip._ar(den, batch), skip._ar(rows, batch), None
    out = {"snr_db": snr, "ar_noisy_rows": _nmse(back(ar_raw), h_future),
           "ar_denoised_rows": _nmse(back(ar_den), h_future),
           "model": _nmse(model(noisy), h_future)}  # fmt: skip
    if g is not None:
        out["gate_noisy_rows_q10_50_90"] = _quantiles(g[:, 0])
        if g.shape[1] > 1:
            out["correction_gain_q10_50_90"] = _quantiles(g[:, 1])
    if skip.selector is not None:
        out.update(_selector(skip, den, batch, rows, back, h_future))
    return out


def _selector(skip, den, batch, rows, back, h_future) -> dict:  # noqa: ANN001
    """What a learned AR selector (``select_gate``) chose: its weights by row set and order,
    its scale, and the NMSE of the skip it builds (before the network's correction)."""
    preds, _, w, scale = skip.select_parts(den, batch, rows)
    half = w.shape[1] // 2
    mixed = skip.mix_candidates(preds, w, scale)
    out = {"selector_sharpness": float(skip.selector.log_beta.exp()),
           "selector_weight_on_noisy_rows_q10_50_90": _quantiles(w[:, half:].sum(1)),
           "selector_mean_weight_per_order": {str(p): float(w[:, [i, half + i]].sum(1).mean())
                                              for i, p in enumerate(AR_SELECT_ORDERS)},
           "skip": _nmse(back(torch.view_as_real(mixed.to(torch.complex64))), h_future)}  # fmt: skip
    if skip.selector.mlp[2].out_features > w.shape[1]:
        out["skip_scale_q10_50_90"] = _quantiles(scale)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a CSI-4CAST run with ar_skip")
    parser.add_argument("--data", type=Path, required=True, help="csi-series test file")
    parser.add_argument("--snr-db", default="0,10,20,25")
    parser.add_argument("--stride", type=int, default=5, help="use every N-th test sample")
    parser.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    _, model, meta = load_run(args.run)
    if meta["model"] != "csi4cast" or model.skip is None or model.skip.ar_order is None:
        parser.error(f"--run {args.run}: not a csi4cast run with an AR skip (ar_skip=True); "
                     f"it is a {meta['model']!r} run")  # fmt: skip
    data = H5Dataset(args.data, fields=("h_hist", "h_future"))
    batch = data.read_batch(range(0, len(data), args.stride))
    gen = torch.Generator().manual_seed(0)
    levels = [_level(model, batch["h_hist"], batch["h_future"], float(s), gen)
              for s in args.snr_db.split(",")]  # fmt: skip
    for lv in levels:
        print(json.dumps(lv))
    out = {"run": str(args.run), "model_config": meta["model_config"], "data": str(args.data),
           "samples": int(batch["h_hist"].shape[0]), "noise": "AWGN, per-sample SNR = level",
           "levels": levels}  # fmt: skip
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(out, indent=1) + "\n")
    print(f"results: {args.results}")


if __name__ == "__main__":
    main()
