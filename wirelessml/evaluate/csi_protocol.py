"""The CSI-prediction evaluation protocol (CSI-4CAST's CSI-RRG): regular, robustness, generalization.

A *scenario* is a test cell (CDL model, delay spread, speed) under one noise condition.

- **regular**: the cells the models were trained on, under AWGN at every SNR level;
- **robustness**: the same cells under phase noise, burst noise (each at its SNR levels)
  and packet drop (each probability);
- **generalization**: the cells outside the training distribution (unseen CDL models,
  speeds or delay spreads), under AWGN at every SNR level.

"Trained on" is read from the first run's training-data config: its grid in grid mode,
its channel models and speed / delay-spread ranges in random mode.

Every estimator (trained runs and classical baselines) sees the same noisy histories: the
noise of condition ``c`` on rows ``[start, stop)`` is drawn from a generator seeded by
``(seed, c, start)``. Per scenario the report holds each estimator's NMSE per step and
overall (:mod:`wirelessml.tasks.csi_prediction` definitions) and its SE; per category,
the share of scenarios in which each estimator has the lowest NMSE, and against the
no-prediction baseline, how many scenarios with speed >= 10 m/s it beats. The cost of
every estimator: parameters and FLOPs per sample (``torch.utils.flop_counter``; LSTM
layers, which the counter does not see on CPU, counted analytically) and ms per sample.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from wirelessml.config import check_field, config_to_dict
from wirelessml.datasets import DatasetInfo, read_arrays
from wirelessml.simulators.csi_series_config import CDL_MODELS
from wirelessml.tasks.csi_noise import REFERENCE_LEVELS, apply_noise, check_noise
from wirelessml.train.data import to_device
from wirelessml.train.run import dataset_fingerprint, write_json_atomic, write_text_atomic

__all__ = [
    "CSIProtocolConfig",
    "evaluate_protocol",
    "format_protocol",
    "model_cost",
    "write_protocol_reports",
]

FAST_SPEED_MPS = 10.0
"""Scenarios at or above this speed are where prediction must beat outdated CSI."""


@dataclass(frozen=True, kw_only=True)
class CSIProtocolConfig:
    """Noise levels of the protocol (defaults: the reference's) and how to run it.

    Args:
        awgn_snr_db: AWGN SNRs [dB] of the regular and generalization scenarios.
        phase_snr_db, burst_snr_db: SNRs [dB] the phase and burst noise are calibrated to.
        drop_p: Packet-drop probabilities.
        noise_types: The kinds to run (``awgn`` always; the others are the robustness tests).
        heatmap_snr_db: AWGN SNR [dB] of the NMSE heat map over speed x delay spread.
        seed: Seed of the noise.
        batch_size: Samples per batch.
    """

    version: int = 1
    awgn_snr_db: tuple[float, ...] = REFERENCE_LEVELS["awgn"]
    phase_snr_db: tuple[float, ...] = REFERENCE_LEVELS["phase"]
    burst_snr_db: tuple[float, ...] = REFERENCE_LEVELS["burst"]
    drop_p: tuple[float, ...] = REFERENCE_LEVELS["drop"]
    noise_types: tuple[str, ...] = ("awgn", "phase", "burst", "drop")
    heatmap_snr_db: float = 10.0
    seed: int = 0
    batch_size: int = 64

    def __post_init__(self) -> None:
        for kind in self.noise_types:
            check_noise(kind, 0.0)
        check_field("awgn" in self.noise_types, self, "noise_types", self.noise_types,
                    "a tuple including 'awgn' (the regular and generalization scenarios)")  # fmt: skip
        for kind, levels in self.conditions_by_kind().items():
            for level in levels:
                check_noise(kind, level)
        check_field(len(self.awgn_snr_db) >= 1, self, "awgn_snr_db", self.awgn_snr_db,
                    "at least one SNR")  # fmt: skip
        check_field(self.heatmap_snr_db in self.awgn_snr_db, self, "heatmap_snr_db",
                    self.heatmap_snr_db, f"one of awgn_snr_db={self.awgn_snr_db}")  # fmt: skip
        check_field(self.batch_size >= 1, self, "batch_size", self.batch_size, "an integer >= 1")

    def conditions_by_kind(self) -> dict[str, tuple[float, ...]]:
        levels = {"awgn": self.awgn_snr_db, "phase": self.phase_snr_db,
                  "burst": self.burst_snr_db, "drop": self.drop_p}  # fmt: skip
        return {k: v for k, v in levels.items() if k in self.noise_types}

    def conditions(self) -> list[tuple[str, float]]:
        """Every (noise kind, level) the estimators are run under."""
        return [(k, float(v)) for k, levels in self.conditions_by_kind().items() for v in levels]


# --------------------------------------------------------------------------- cost
def model_cost(model: Any, example: torch.Tensor) -> dict[str, float | None]:
    """Parameters and forward FLOPs per sample of an estimator on ``example`` ([1, A, H, K]).

    FLOPs come from :class:`torch.utils.flop_counter.FlopCounterMode` (with the fused
    Transformer fast path off, which it cannot see into); an LSTM layer it reports as 0 (the fused CPU kernel is not counted) is added analytically as
    ``2 * rows * steps * 4 * (in * hidden + hidden^2)`` per layer. Classical predictors
    (not ``nn.Module``) get ``None``.
    """
    if not isinstance(model, nn.Module):
        return {"params": None, "flops_per_sample": None}
    params = sum(p.numel() for p in model.parameters())
    # The fused fast path of nn.TransformerEncoderLayer in eval mode is invisible to the
    # counter: switch it off while counting (same arithmetic, counted op by op).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(example)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    flops = float(counter.get_total_flops())
    counts = counter.get_flop_counts()
    rows, steps = example.shape[1], example.shape[2]
    for name, module in model.named_modules():
        if isinstance(module, nn.LSTM):
            key = f"{type(model).__name__}.{name}" if name else type(model).__name__
            if sum(counts.get(key, {}).values()) == 0:
                for layer in range(module.num_layers):
                    d_in = module.input_size if layer == 0 else module.hidden_size
                    h = module.hidden_size
                    flops += 2.0 * rows * steps * 4 * (d_in * h + h * h)
    return {"params": params, "flops_per_sample": flops / example.shape[0]}


# --------------------------------------------------------------------------- regular cells
def _trained_on(train_config: dict[str, Any] | None):
    """A predicate (model_id, ds_ns, speed) -> bool: is the cell in the training distribution?"""
    if not train_config:
        return lambda m, d, s: True
    data = train_config.get("_data", train_config)
    models = {CDL_MODELS.index(m) for m in data.get("channel_models", CDL_MODELS)}
    if data.get("mode") == "grid":
        ds_grid = [float(v) for v in data["delay_spread_ns_grid"]]
        sp_grid = [float(v) for v in data["speed_mps_grid"]]
        return lambda m, d, s: (m in models and any(math.isclose(d, g, rel_tol=1e-4) for g in ds_grid)
                                and any(math.isclose(s, g, rel_tol=1e-4) for g in sp_grid))  # fmt: skip
    (d0, d1), (s0, s1) = data["delay_spread_ns"], data["speed_mps"]
    return lambda m, d, s: (
        m in models and d0 - 1e-3 <= d <= d1 + 1e-3 and s0 - 1e-3 <= s <= s1 + 1e-3
    )


# --------------------------------------------------------------------------- running
@torch.no_grad()
def _run_all(task: Any, estimators: dict[str, Any], info: DatasetInfo, cfg: CSIProtocolConfig,
             device: torch.device, regular_rows: torch.Tensor) -> tuple[dict, dict, dict]:  # fmt: skip
    """Per condition and estimator: per-sample ``nse`` [N, F] and ``se_pred`` [N] (NaN where not
    run: the non-AWGN conditions run on the regular rows only); ``se_true`` [N]; per
    estimator the median ms per sample."""
    n = info.num_committed
    horizon = info.fields["h_future"].shape[1]
    conditions = cfg.conditions()
    nan = float("nan")
    nse = {c: {lb: torch.full((n, horizon), nan) for lb in estimators}
           for c in range(len(conditions))}  # fmt: skip
    se = {c: {lb: torch.full((n,), nan) for lb in estimators} for c in range(len(conditions))}
    se_true = torch.full((n,), nan)
    times: dict[str, list[float]] = {lb: [] for lb in estimators}
    for start in range(0, n, cfg.batch_size):
        stop = min(start + cfg.batch_size, n)
        arrays = read_arrays(info.path, ["h_hist", "h_future"], start, stop)
        full = to_device({k: torch.from_numpy(v) for k, v in arrays.items()}, device)
        se_true[start:stop] = task.per_sample(full["h_future"], full["h_future"])["se_true"].cpu()
        for ci, (kind, level) in enumerate(conditions):
            rows, batch = torch.arange(start, stop), full
            if kind != "awgn":  # robustness: the trained cells only
                keep = regular_rows[start:stop]
                if not bool(keep.any()):
                    continue
                rows = rows[keep]
                batch = {k: v[keep.to(v.device)] for k, v in full.items()}
            gen = torch.Generator(device=device).manual_seed(_seed(cfg.seed, ci, start))
            feed = {
                **batch,
                "h_hist_noisy": apply_noise(batch["h_hist"], kind, level, generator=gen),
            }
            for label, est in estimators.items():
                t0 = time.perf_counter()
                h_hat = task.predict(est, feed)
                times[label].append((time.perf_counter() - t0) / len(rows))
                per = task.per_sample(h_hat, batch["h_future"])
                nse[ci][label][rows] = per["nse"].cpu().float()
                se[ci][label][rows] = per["se_pred"].cpu().float()
    ms = {lb: 1000.0 * statistics.median(t) for lb, t in times.items()}
    return nse, se, {"se_true": se_true, "ms_per_sample": ms}


def _seed(seed: int, condition: int, start: int) -> int:
    return int(np.random.SeedSequence([seed, condition, start]).generate_state(1)[0])


def _db(x: float) -> float:
    return 10.0 * math.log10(x) if x > 0 else float("-inf")


def evaluate_protocol(
    task: Any,
    estimators: dict[str, tuple[str, Any]],
    info: DatasetInfo,
    *,
    train_config: dict[str, Any] | None,
    config: CSIProtocolConfig | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the protocol over the test file ``info`` for every estimator.

    Args:
        task: The csi-prediction task.
        estimators: ``{label: (kind, estimator)}`` with kind ``"model"`` or ``"baseline"``.
        info: The test dataset.
        train_config: The training-data config of the runs (decides regular vs
            generalization cells); ``None``: every cell is regular.
        config: Noise levels and batching (default: the reference's levels).
        device: Torch device.

    Returns:
        ``{"task", "protocol", "data", "estimators": {label: {kind, params,
        flops_per_sample, ms_per_sample}}, "scenarios": [...], "summary": {category:
        {label: {...}}}, "heatmap": {...}, "metric_definitions", "protocol_config"}``.
    """
    cfg = config or CSIProtocolConfig()
    dev = torch.device(device)
    models = {lb: est for lb, (_, est) in estimators.items()}
    for est in models.values():
        if isinstance(est, nn.Module):
            est.eval()
    example = torch.from_numpy(read_arrays(info.path, ["h_hist"], 0, 1)["h_hist"]).to(dev)
    costs = {
        lb: {"kind": kind, **model_cost(est, example)} for lb, (kind, est) in estimators.items()
    }
    conds = read_arrays(info.path, ["channel_model_id", "delay_spread_ns", "speed_mps"])
    regular = _trained_on(train_config)
    regular_rows = torch.tensor([regular(int(m), float(d), float(s)) for m, d, s in
                                 zip(*conds.values(), strict=True)], dtype=torch.bool)  # fmt: skip
    nse, se, extra = _run_all(task, models, info, cfg, dev, regular_rows)
    for lb in costs:
        costs[lb]["ms_per_sample"] = extra["ms_per_sample"][lb]
    scenarios = _scenarios(cfg, list(models), nse, se, extra["se_true"], conds, regular)
    return {
        "task": task.name,
        "protocol": "csi-rrg",
        "data": dataset_fingerprint(info),
        "estimators": costs,
        "scenarios": scenarios,
        "summary": _summary(scenarios, list(models)),
        "heatmap": _heatmap(cfg, list(models), nse, conds),
        "protocol_config": config_to_dict(cfg),
        "metric_definitions": dict(task.metric_definitions),
        "train_config": train_config,
    }


def _scenarios(cfg, labels, nse, se, se_true, conds, regular) -> list[dict[str, Any]]:  # noqa: ANN001
    table = np.stack([conds["channel_model_id"].astype(np.float64), conds["delay_spread_ns"],
                      conds["speed_mps"]], axis=1)  # fmt: skip
    cells, keys = np.unique(np.round(table, 4), axis=0, return_inverse=True)
    keys = keys.reshape(-1)
    out = []
    for ci, (kind, level) in enumerate(cfg.conditions()):
        for k, (m, d, s) in enumerate(cells.tolist()):
            is_regular = regular(int(m), d, s)
            if kind != "awgn" and not is_regular:
                continue  # robustness runs on the trained cells only
            category = (
                ("regular" if kind == "awgn" else "robustness") if is_regular else "generalization"
            )
            mask = torch.from_numpy(keys == k)
            row: dict[str, Any] = {
                "category": category, "channel_model": CDL_MODELS[int(m)], "delay_spread_ns": d,
                "speed_mps": s, "noise": kind, "level": level, "count": int(mask.sum()),
                "se_true": float(se_true[mask].double().mean()), "results": {},
            }  # fmt: skip
            for lb in labels:
                e = nse[ci][lb][mask].double()
                row["results"][lb] = {
                    "nmse_db": _db(float(e.mean())),
                    "nmse_db_steps": [_db(float(v)) for v in e.mean(0)],
                    "se_pred": float(se[ci][lb][mask].double().mean()),
                }
            row["best"] = min(labels, key=lambda lb: row["results"][lb]["nmse_db"])
            out.append(row)
    return out


def _summary(scenarios: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Per category and estimator: share best, mean NMSE [dB] over scenarios (and per step),
    mean SE, and the speed >= 10 m/s comparison against no-prediction."""
    out: dict[str, Any] = {}
    for category in ("regular", "robustness", "generalization"):
        rows = [r for r in scenarios if r["category"] == category]
        if not rows:
            continue
        fast = [r for r in rows if r["speed_mps"] >= FAST_SPEED_MPS]
        cat: dict[str, Any] = {"num_scenarios": len(rows), "num_fast_scenarios": len(fast)}
        for lb in labels:
            steps = np.array([r["results"][lb]["nmse_db_steps"] for r in rows])
            entry = {
                "share_best": sum(r["best"] == lb for r in rows) / len(rows),
                "mean_nmse_db": float(np.mean([r["results"][lb]["nmse_db"] for r in rows])),
                "mean_nmse_db_steps": steps.mean(0).tolist(),
                "mean_se_pred": float(np.mean([r["results"][lb]["se_pred"] for r in rows])),
            }
            if "no-prediction" in labels and lb != "no-prediction" and fast:
                wins = sum(r["results"][lb]["nmse_db"] < r["results"]["no-prediction"]["nmse_db"]
                           for r in fast)  # fmt: skip
                entry["beats_no_prediction_fast"] = f"{wins}/{len(fast)}"
            cat[lb] = entry
        cat["mean_se_true"] = float(np.mean([r["se_true"] for r in rows]))
        out[category] = cat
    return out


def _heatmap(cfg, labels, nse, conds) -> dict[str, Any]:  # noqa: ANN001
    """NMSE [dB] over speed x delay spread at AWGN ``heatmap_snr_db``, averaged over CDL models."""
    ci = cfg.conditions().index(("awgn", float(cfg.heatmap_snr_db)))
    speeds = sorted(set(np.round(conds["speed_mps"].astype(np.float64), 4).tolist()))
    spreads = sorted(set(np.round(conds["delay_spread_ns"].astype(np.float64), 4).tolist()))
    sp = np.round(conds["speed_mps"].astype(np.float64), 4)
    ds = np.round(conds["delay_spread_ns"].astype(np.float64), 4)
    grids = {}
    for lb in labels:
        e = nse[ci][lb].double().mean(1).numpy()
        grid = [[_db(float(e[(ds == d) & (sp == s)].mean())) if ((ds == d) & (sp == s)).any()
                 else None for s in speeds] for d in spreads]  # fmt: skip
        grids[lb] = grid
    return {"snr_db": cfg.heatmap_snr_db, "speed_mps": speeds, "delay_spread_ns": spreads,
            "nmse_db": grids}  # fmt: skip


# --------------------------------------------------------------------------- reports
def _scenario_line(row: dict[str, Any], labels: Sequence[str]) -> str:
    unit = "dB" if row["noise"] != "drop" else ""
    head = (f"{row['category'][:5]:<5} {row['channel_model']} ds {row['delay_spread_ns']:>5g} ns "
            f"v {row['speed_mps']:>4g} m/s {row['noise']:<5} {row['level']:>5g}{unit:<2}")  # fmt: skip
    parts = [f"{lb}: " + "/".join(f"{v:.1f}" for v in row["results"][lb]["nmse_db_steps"])
             for lb in labels]  # fmt: skip
    return f"{head} | " + " | ".join(parts) + f" | best {row['best']}"


def format_protocol(result: dict[str, Any], *, scenarios: bool = True) -> str:
    """Terminal text: per-scenario NMSE per step (optional), then the per-category summary."""
    labels = list(result["estimators"])
    lines = []
    if scenarios:
        lines.append("NMSE [dB] per prediction step (step1/step2/...) per scenario:")
        lines += [_scenario_line(r, labels) for r in result["scenarios"]]
        lines.append("")
    width = max(len(lb) for lb in labels)
    for category, cat in result["summary"].items():
        lines.append(f"{category}: {cat['num_scenarios']} scenarios ({cat['num_fast_scenarios']} "
                     f"at >= {FAST_SPEED_MPS:g} m/s); SE with true CSI {cat['mean_se_true']:.2f} bit/s/Hz")  # fmt: skip
        lines.append(f"  {'estimator':<{width}}  best [%]  mean NMSE [dB]  per step [dB]"
                     "               SE [bit/s/Hz]  beats no-pred at >=10 m/s")  # fmt: skip
        for lb in labels:
            e = cat[lb]
            steps = "/".join(f"{v:.1f}" for v in e["mean_nmse_db_steps"])
            lines.append(f"  {lb:<{width}}  {100 * e['share_best']:8.1f}  {e['mean_nmse_db']:14.2f}  "
                         f"{steps:<26}  {e['mean_se_pred']:13.2f}  {e.get('beats_no_prediction_fast', '-')}")  # fmt: skip
    lines.append("")
    lines.append("cost per sample: " + "; ".join(
        f"{lb}: {_fmt_cost(c)}" for lb, c in result["estimators"].items()))  # fmt: skip
    return "\n".join(lines)


def _fmt_cost(c: dict[str, Any]) -> str:
    if c.get("params") is None:
        return f"classical, {c['ms_per_sample']:.2f} ms"
    return (f"{c['params'] / 1e6:.2f} M params, {c['flops_per_sample'] / 1e9:.3f} GFLOPs, "
            f"{c['ms_per_sample']:.2f} ms")  # fmt: skip


def ax_row(ax, axes) -> int:  # noqa: ANN001
    """Row of ``ax`` in the grid ``axes``."""
    return next(i for i, row in enumerate(axes) if ax in row)


def _plot_heatmap(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hm = result["heatmap"]
    labels = list(hm["nmse_db"])
    values = [v for lb in labels for row in hm["nmse_db"][lb] for v in row if v is not None]
    vmin, vmax = min(values), max(values)
    cols = min(4, len(labels))
    rows = -(-len(labels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows), squeeze=False)
    for ax, lb in zip(axes.flat, labels, strict=False):
        grid = np.array([[np.nan if v is None else v for v in row] for row in hm["nmse_db"][lb]])
        im = ax.imshow(grid, origin="lower", aspect="auto", vmin=vmin, vmax=vmax, cmap="viridis")
        ax.set_xticks(range(len(hm["speed_mps"])), [f"{v:g}" for v in hm["speed_mps"]], fontsize=7)
        ax.set_yticks(range(len(hm["delay_spread_ns"])), [f"{v:g}" for v in hm["delay_spread_ns"]],
                      fontsize=7)  # fmt: skip
        if ax in axes[-1]:
            ax.set_xlabel("speed [m/s]", fontsize=8)
        if ax is axes[ax_row(ax, axes)][0]:
            ax.set_ylabel("delay spread [ns]", fontsize=8)
        ax.set_title(lb, fontsize=8)
    for ax in list(axes.flat)[len(labels) :]:
        ax.axis("off")
    fig.subplots_adjust(hspace=0.35, wspace=0.25)
    fig.colorbar(im, ax=axes, shrink=0.8, label="NMSE [dB]")
    fig.suptitle(f"CSI prediction NMSE, AWGN {hm['snr_db']:g} dB, mean over CDL models", fontsize=9)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _markdown(result: dict[str, Any]) -> str:
    labels = list(result["estimators"])
    data = result["data"]
    parts = [f"# Evaluation: {result['task']} (protocol {result['protocol']})",
             f"Data: `{data['path']}` ({data['num_samples']} samples, seed {data['seed']})."]  # fmt: skip
    parts.append("## Summary\n\n```\n" + format_protocol(result, scenarios=False) + "\n```")
    head = (
        "| category | CDL | DS [ns] | speed [m/s] | noise | level | "
        + " | ".join(labels)
        + " | best |"
    )
    lines = [head, "|" + "---|" * (7 + len(labels))]
    for r in result["scenarios"]:
        cells = ["/".join(f"{v:.1f}" for v in r["results"][lb]["nmse_db_steps"]) for lb in labels]
        lines.append(f"| {r['category']} | {r['channel_model']} | {r['delay_spread_ns']:g} | "
                     f"{r['speed_mps']:g} | {r['noise']} | {r['level']:g} | " + " | ".join(cells)
                     + f" | {r['best']} |")  # fmt: skip
    parts += ["## NMSE [dB] per step (step1/step2/...) per scenario", "\n".join(lines)]
    parts += ["## Definitions"] + [f"- `{k}`: {v}" for k, v in result["metric_definitions"].items()]
    return "\n\n".join(parts) + "\n"


def write_protocol_reports(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``nmse_heatmap.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", result)
    write_text_atomic(out / "report.md", _markdown(result))
    _plot_heatmap(result, out / "nmse_heatmap.png")
    return [out / "report.json", out / "report.md", out / "nmse_heatmap.png"]


def protocol_config_from(overrides: dict[str, Any]) -> CSIProtocolConfig:
    """A :class:`CSIProtocolConfig` with some fields replaced."""
    return dataclasses.replace(CSIProtocolConfig(), **overrides)
