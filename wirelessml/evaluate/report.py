"""Evaluation reports: a terminal table, markdown, JSON and one PNG per condition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wirelessml.train.run import write_json_atomic, write_text_atomic

__all__ = ["conditions", "format_gaps", "format_table", "gaps", "to_markdown", "write_reports"]

_AXES = {"snr_db": "SNR [dB]", "doppler_hz": "maximum Doppler [Hz]",
         "delay_spread_ns": "RMS delay spread [ns]", "num_users": "users K",
         "num_antennas": "BS antennas M", "scene_index": "scene"}  # fmt: skip

_METRICS = {"nmse_db": "NMSE [dB]", "mse_db": "MSE [dB]", "sum_se": "sum SE [bit/s/Hz]",
            "min_rate": "min rate [bit/s/Hz]", "rmse_db": "RMSE [dB]",
            "map_rmse_db": "per-map RMSE [dB]", "lit_rmse_db": "RMSE lit [dB]",
            "shadow_rmse_db": "RMSE shadow [dB]"}  # fmt: skip
"""Column titles of the tasks' overall metrics; the first metric of a report is the one
broken down per condition (NMSE for channel estimation, the sum SE for precoding)."""


def _metrics(result: dict[str, Any]) -> list[str]:
    return list(next(iter(result["estimators"].values()))["report"]["overall"])


def conditions(result: dict[str, Any]) -> list[str]:
    """The conditions the report is broken down by, in the task's order."""
    return list(next(iter(result["estimators"].values()))["report"]["by"])


def _by(result: dict[str, Any], label: str, condition: str) -> list[dict[str, float]]:
    return result["estimators"][label]["report"]["by"].get(condition, [])


def _rows(result: dict[str, Any], condition: str | None) -> tuple:
    labels = list(result["estimators"])
    metrics = _metrics(result)
    metric = metrics[0]
    values = [] if condition is None else [g["value"] for g in _by(result, labels[0], condition)]
    header = ["estimator", *(_METRICS.get(m, m) for m in metrics)]
    header += [f"{v:g}" for v in values] + ["ms/frame", "total [s]"]
    rows = []
    for label in labels:
        est = result["estimators"][label]
        overall = est["report"]["overall"]
        groups = [] if condition is None else _by(result, label, condition)
        rows.append([label, *(f"{overall[m]:.2f}" for m in metrics),
                     *(f"{g[metric]:.2f}" for g in groups), f"{est['ms_per_frame']:.3f}",
                     f"{est['total_s']:.1f}"])  # fmt: skip
    return header, rows


def format_table(result: dict[str, Any], condition: str = "snr_db") -> str:
    """Plain-text table: overall metrics, the first per value of ``condition``, time per frame."""
    header, rows = _rows(result, condition)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # fmt: skip
    metric = _METRICS.get(_metrics(result)[0], _metrics(result)[0])
    title = f"{metric} by {_AXES.get(condition, condition)} (columns), {result['data']['path']}"
    return "\n".join([title, line(header), *(line(r) for r in rows)])


def _markdown_table(result: dict[str, Any], condition: str | None) -> str:
    header, rows = _rows(result, condition)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def gaps(result: dict[str, Any], metric: str = "nmse_db") -> dict[str, dict[str, float]]:
    """Each estimator against the reference baseline, grid point by grid point.

    Returns:
        ``{label: {"overall_gap_db", "mean_cell_gap_db", "max_cell_gap_db"}}``: the gap of
        the overall metric, and the mean and the largest gap over the grid points (gap =
        estimator's metric minus the reference's, in dB; positive = worse). Empty when the
        result has no reference or the data is not a grid.
    """
    ref_label = result.get("reference")
    if ref_label is None:
        return {}
    ref = result["estimators"][ref_label]["report"]
    ref_cells = ref.get("cells") or []
    out = {}
    for label, est in result["estimators"].items():
        if label == ref_label or not ref_cells:
            continue
        cell_gaps = [c[metric] - r[metric] for c, r in
                     zip(est["report"]["cells"], ref_cells, strict=True)]  # fmt: skip
        out[label] = {
            "overall_gap_db": est["report"]["overall"][metric] - ref["overall"][metric],
            "mean_cell_gap_db": sum(cell_gaps) / len(cell_gaps),
            "max_cell_gap_db": max(cell_gaps),
        }
    return out


def format_gaps(result: dict[str, Any]) -> str:
    """Plain-text lines: each estimator's gap to the reference, overall and per grid point."""
    summary = gaps(result)
    if not summary:
        return ""
    ref = result["reference"]
    lines = [f"Gap to {ref} in NMSE [dB] (positive = worse): overall / mean over grid points / "
             "worst grid point"]  # fmt: skip
    width = max(len(lb) for lb in summary)
    lines += [f"{lb:<{width}}  {g['overall_gap_db']:+6.2f}  {g['mean_cell_gap_db']:+6.2f}  "
              f"{g['max_cell_gap_db']:+6.2f}" for lb, g in summary.items()]  # fmt: skip
    return "\n".join(lines)


def _cells_markdown(result: dict[str, Any]) -> list[str]:
    labels = list(result["estimators"])
    all_cells = [result["estimators"][lb]["report"].get("cells") or [] for lb in labels]
    if not all_cells[0]:
        return []
    conds = [k for k in all_cells[0][0] if k in _AXES]
    header = [_AXES[k] for k in conds] + labels
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, cell in enumerate(all_cells[0]):
        values = [f"{cell[k]:g}" for k in conds]
        values += [f"{cs[i]['nmse_db']:.2f}" for cs in all_cells]
        lines.append("| " + " | ".join(values) + " |")
    parts = ["## NMSE [dB] per grid point", "\n".join(lines)]
    summary = gaps(result)
    if summary:
        ref = result["reference"]
        rows = [f"| {lb} | {g['overall_gap_db']:+.2f} | {g['mean_cell_gap_db']:+.2f} | "
                f"{g['max_cell_gap_db']:+.2f} |" for lb, g in summary.items()]  # fmt: skip
        parts += [f"## Gap to {ref} [dB] (positive = worse than {ref})",
                  "| estimator | overall NMSE | mean over grid points | worst grid point |\n"
                  "|---|---|---|---|\n" + "\n".join(rows)]  # fmt: skip
    return parts


def to_markdown(result: dict[str, Any]) -> str:
    """The report as markdown: one table per condition, definitions and provenance."""
    data = result["data"]
    parts = [
        f"# Evaluation: {result['task']}",
        f"Data: `{data['path']}` ({data['num_samples']} samples, simulator `{data['simulator']}`, "
        f"seed {data['seed']}, config sha256 `{data['config_sha256'][:12]}`).",
    ]
    metric = _METRICS.get(_metrics(result)[0], _metrics(result)[0])
    for condition in conditions(result):
        axis = _AXES.get(condition, condition)
        parts += [f"## {metric} by {axis}", _markdown_table(result, condition)]
    parts += _cells_markdown(result)
    parts += ["## Definitions"]
    parts += [f"- `{k}`: {v}" for k, v in result["metric_definitions"].items()]
    parts += [f"- {result['timing_definition']}"]
    return "\n\n".join(parts) + "\n"


def _plot(result: dict[str, Any], condition: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = _metrics(result)[0]
    title = _METRICS.get(metric, metric)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label in result["estimators"]:
        groups = _by(result, label, condition)
        ax.plot([g["value"] for g in groups], [g[metric] for g in groups], marker="o",
                label=label)  # fmt: skip
    axis = _AXES.get(condition, condition)
    ax.set_xlabel(axis)
    ax.set_ylabel(title)
    ax.set_title(f"{result['task']}: {title.split(' [')[0]} vs {axis.split(' [')[0]}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def write_reports(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``<metric>_vs_<condition>.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", {**result, "gaps": gaps(result)})
    write_text_atomic(out / "report.md", to_markdown(result))
    written = [out / "report.json", out / "report.md"]
    stem = _metrics(result)[0].removesuffix("_db")  # nmse_vs_snr_db.png, sum_se_vs_...
    for condition in conditions(result):
        _plot(result, condition, out / f"{stem}_vs_{condition}.png")
        written.append(out / f"{stem}_vs_{condition}.png")
    return written
