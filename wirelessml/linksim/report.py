"""Reports of a linksim run: Eb/N0 at a target BLER, a markdown table, a BER/BLER plot."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

__all__ = ["curve", "ebno_at_bler", "markdown_report", "plot_results"]


def curve(results: dict[str, Any], name: str, metric: str = "bler") -> list[tuple[float, float]]:
    """``(ebno_db, metric)`` of one system at every point it was simulated at."""
    return [(p["ebno_db"], p["systems"][name][metric]) for p in results["points"]
            if name in p["systems"]]  # fmt: skip


def ebno_at_bler(results: dict[str, Any], name: str, target: float = 0.1) -> float | None:
    """Eb/N0 [dB] where a system's BLER crosses ``target`` (first crossing from above).

    Interpolated linearly in ``log10(BLER)`` between the two points around the crossing; a
    point with no block error counts as BLER ``0.5 / blocks`` there (half an error).
    ``None`` if the curve never gets below ``target`` (or starts below it).
    """
    pts = [(p["ebno_db"], max(c["bler"], 0.5 / max(c["blocks"], 1)))
           for p in results["points"] if (c := p["systems"].get(name))]  # fmt: skip
    for (e0, b0), (e1, b1) in zip(pts[:-1], pts[1:], strict=False):
        if b0 >= target > b1:
            w = (math.log10(b0) - math.log10(target)) / (math.log10(b0) - math.log10(b1))
            return e0 + w * (e1 - e0)
    return None


def markdown_report(results: dict[str, Any], target: float = 0.1) -> str:
    """The config, Eb/N0 at BLER ``target`` (and the gap to perfect CSI), and a table."""
    cfg, code = results["config"], results["code"]
    names = [s["name"] for s in results["systems"]]
    lines = [
        "# linksim results", "",
        f"{cfg['modulation']}, LDPC rate {cfg['rate']} (n={code['n']}, k={code['k']}), "
        f"{cfg['channel']}, delay spread {cfg['delay_spread_ns']:g} ns, Doppler "
        f"{cfg['doppler_hz']:g} Hz; target {cfg['target_block_errors']} block errors, at most "
        f"{cfg['max_blocks']} blocks per point; seed {cfg['seed']}.", "",
        f"## Eb/N0 at BLER {target:g}", "", "| system | Eb/N0 [dB] | gap to perfect CSI [dB] |",
        "| --- | ---: | ---: |",
    ]  # fmt: skip
    perfect = next((s["name"] for s in results["systems"] if s["kind"] == "perfect"), None)
    ref = ebno_at_bler(results, perfect, target) if perfect else None
    for name in names:
        e = ebno_at_bler(results, name, target)
        gap = f"{e - ref:+.2f}" if e is not None and ref is not None else "-"
        lines.append(f"| {name} | {'-' if e is None else f'{e:.2f}'} | {gap} |")
    lines += ["", "## BER / BLER per Eb/N0", "",
              "| Eb/N0 [dB] | " + " | ".join(f"{n} BER | {n} BLER (errors/blocks)" for n in names) + " |",
              "| ---: |" + " ---: | ---: |" * len(names)]  # fmt: skip
    for p in results["points"]:
        cells = []
        for n in names:
            c = p["systems"].get(n)
            cells += (["-", "-"] if c is None else
                      [f"{c['ber']:.3g}", f"{c['bler']:.3g} ({c['block_errors']}/{c['blocks']})"])  # fmt: skip
        lines.append(f"| {p['ebno_db']:g} | " + " | ".join(cells) + " |")
    lines += ["", "## Definitions", ""]
    lines += [f"- `{k}`: {v}" for k, v in results["definitions"].items()]
    return "\n".join(lines) + "\n"


def plot_results(results: dict[str, Any], path: str | Path) -> Path:
    """One PNG: BER (left) and BLER (right) vs Eb/N0, log y; zero-error points not drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, metric in zip(axes, ("ber", "bler"), strict=True):
        for s in results["systems"]:
            pts = [(e, v) for e, v in curve(results, s["name"], metric) if v > 0]
            if pts:
                ax.semilogy(*zip(*pts, strict=True), marker="o", label=s["name"])
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylabel(metric.upper())
        ax.grid(True, which="both", alpha=0.3)
    axes[1].axhline(0.1, color="grey", lw=0.8, ls=":")
    axes[1].legend(fontsize=8)
    cfg = results["config"]
    fig.suptitle(f"{cfg['modulation']} rate {cfg['rate']}, {cfg['channel']}, "
                 f"{cfg['delay_spread_ns']:g} ns, {cfg['doppler_hz']:g} Hz")  # fmt: skip
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path
