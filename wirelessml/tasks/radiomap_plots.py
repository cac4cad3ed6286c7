"""PNG per example map: buildings, truth, then each estimator's prediction and error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_arrays, read_info

__all__ = ["write_examples"]


@torch.no_grad()
def write_examples(task: Any, runs: list, data: PathType, out: PathType, *,
                   device: str = "cpu", num: int = 4) -> list[Path]:  # fmt: skip
    """Write ``example_<k>.png`` for the first ``num`` maps of ``data`` into ``out``.

    Each figure has one row per estimator (the runs, then the best baseline by name order
    ``log-distance``, ``idw``) with its prediction and its error (prediction - truth [dB]),
    and a first row with the building heights and the true map. Building cells are blank;
    measured cells are dots.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wirelessml.train.run import load_run

    info = read_info(data)
    n = min(num, info.num_committed)
    arrays = read_arrays(info.path, list(task.eval_fields), 0, n)
    batch = {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
    estimators: list[tuple[str, Any]] = []
    for run in runs:
        _, model, meta = load_run(run, device)
        task.configure(model.config)
        estimators.append((f"{meta['model']} ({Path(run).name})", model))
    for name in ("log-distance", "idw"):
        estimators.append((name, task.build_baseline(name, info, device)))
    preds = [(label, task.predict(est, batch).cpu().numpy()) for label, est in estimators]
    truth, mask = arrays["path_gain_db"], arrays["building_mask"] > 0
    measured = task.model_inputs(batch)["sparse_mask"].cpu().numpy() > 0
    lo, hi = float(np.percentile(truth[~mask], 1)), float(truth[~mask].max())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(n):
        rows = 1 + len(preds)
        fig, axes = plt.subplots(rows, 2, figsize=(7.0, 3.2 * rows), squeeze=False)
        axes[0, 0].imshow(arrays["building_height"][k], origin="lower", cmap="Greys")
        axes[0, 0].set_title("building height [m]")
        _map(axes[0, 1], truth[k], mask[k], lo, hi, "truth [dB]")
        ys, xs = np.nonzero(measured[k])
        axes[0, 1].plot(xs, ys, ".", ms=2, color="red")
        for r, (label, pred) in enumerate(preds, start=1):
            _map(axes[r, 0], pred[k], mask[k], lo, hi, f"{label} [dB]")
            err = np.where(mask[k] | measured[k], np.nan, pred[k] - truth[k])
            rmse = float(np.sqrt(np.nanmean(err**2)))
            image = axes[r, 1].imshow(err, origin="lower", cmap="RdBu_r", vmin=-20, vmax=20)
            axes[r, 1].set_title(f"error, RMSE {rmse:.1f} dB")
            fig.colorbar(image, ax=axes[r, 1], fraction=0.046)
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        path = out / f"example_{k}.png"
        tmp = path.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=80)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    return written


def _map(ax: Any, values: np.ndarray, mask: np.ndarray, lo: float, hi: float, title: str) -> None:
    image = ax.imshow(np.where(mask, np.nan, values), origin="lower", vmin=lo, vmax=hi)
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
