"""Evaluation reports: a terminal table, markdown, JSON and one PNG per condition."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wirelessml.train.run import write_json_atomic, write_text_atomic

__all__ = ["format_table", "to_markdown", "write_reports"]

_AXES = {"snr_db": "SNR [dB]", "doppler_hz": "maximum Doppler [Hz]",
         "delay_spread_ns": "RMS delay spread [ns]"}  # fmt: skip


def _by(result: dict[str, Any], label: str, condition: str) -> list[dict[str, float]]:
    return result["estimators"][label]["report"]["by"].get(condition, [])


def _rows(result: dict[str, Any], condition: str | None, metric: str = "nmse_db") -> tuple:
    labels = list(result["estimators"])
    values = [] if condition is None else [g["value"] for g in _by(result, labels[0], condition)]
    header = ["estimator", "NMSE [dB]", "MSE [dB]"]
    header += [f"{v:g}" for v in values] + ["ms/frame"]
    rows = []
    for label in labels:
        est = result["estimators"][label]
        overall = est["report"]["overall"]
        groups = [] if condition is None else _by(result, label, condition)
        rows.append([label, f"{overall['nmse_db']:.2f}", f"{overall['mse_db']:.2f}",
                     *(f"{g[metric]:.2f}" for g in groups), f"{est['ms_per_frame']:.3f}"])  # fmt: skip
    return header, rows


def format_table(result: dict[str, Any], condition: str = "snr_db") -> str:
    """Plain-text table: overall NMSE/MSE, NMSE per value of ``condition``, time per frame."""
    header, rows = _rows(result, condition)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # fmt: skip
    title = f"NMSE [dB] by {_AXES.get(condition, condition)} (columns), {result['data']['path']}"
    return "\n".join([title, line(header), *(line(r) for r in rows)])


def _markdown_table(result: dict[str, Any], condition: str | None) -> str:
    header, rows = _rows(result, condition)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def to_markdown(result: dict[str, Any]) -> str:
    """The report as markdown: one table per condition, definitions and provenance."""
    data = result["data"]
    parts = [
        f"# Evaluation: {result['task']}",
        f"Data: `{data['path']}` ({data['num_samples']} samples, simulator `{data['simulator']}`, "
        f"seed {data['seed']}, config sha256 `{data['config_sha256'][:12]}`).",
    ]
    for condition, axis in _AXES.items():
        parts += [f"## NMSE [dB] by {axis}", _markdown_table(result, condition)]
    parts += ["## Definitions"]
    parts += [f"- `{k}`: {v}" for k, v in result["metric_definitions"].items()]
    parts += [f"- {result['timing_definition']}"]
    return "\n\n".join(parts) + "\n"


def _plot(result: dict[str, Any], condition: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label in result["estimators"]:
        groups = _by(result, label, condition)
        ax.plot([g["value"] for g in groups], [g["nmse_db"] for g in groups], marker="o",
                label=label)  # fmt: skip
    ax.set_xlabel(_AXES[condition])
    ax.set_ylabel("NMSE [dB]")
    ax.set_title(f"{result['task']}: NMSE vs {_AXES[condition].split(' [')[0]}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def write_reports(result: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json``, ``report.md`` and ``nmse_vs_<condition>.png`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "report.json", result)
    write_text_atomic(out / "report.md", to_markdown(result))
    written = [out / "report.json", out / "report.md"]
    first = next(iter(result["estimators"].values()))["report"]["by"]
    for condition in _AXES:
        if condition in first:
            _plot(result, condition, out / f"nmse_vs_{condition}.png")
            written.append(out / f"nmse_vs_{condition}.png")
    return written
