"""The BER/BLER Monte Carlo of the reference link, for several receivers at once.

Per Eb/N0 point, batches of ``batch_size`` codewords are drawn (bits, channel, noise) and
every *running* system receives the same batch, so all systems see the same channel
realizations, noise and bits (their differences are not Monte-Carlo noise of different
draws). A system stops at a point once it has ``target_block_errors`` block errors or
``max_blocks`` blocks; the point ends when every system has stopped. A system with no
block error at a point is not simulated at the higher points (its curve ends there).

Batch ``j`` of point ``i`` depends only on ``(seed, i, j)``, so a resumed run (same config,
same output folder) continues with exactly the draws of an uninterrupted one. Results are
written after every point (``results.json``, ``results.md``, ``results.png``, atomically):
a killed run keeps its finished points.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from wirelessml.config import config_to_dict
from wirelessml.errors import WirelessMLError
from wirelessml.linksim.link import GenieLMMSEEstimator, PerfectCSI, ReferenceLink
from wirelessml.simulators.ofdm import block_seed

__all__ = [
    "DEFINITIONS",
    "RESULTS_FORMAT",
    "Counts",
    "System",
    "baseline_systems",
    "neural_system",
    "run_linksim",
]

RESULTS_FORMAT = "wirelessml-linksim"
RESULTS_VERSION = 1

DEFINITIONS: dict[str, str] = {
    "ber": "information bit errors / information bits (after LDPC decoding)",
    "bler": "codewords with at least one information bit error / codewords; one codeword "
    "per OFDM slot",
    "ebno_db": "Eb/N0 [dB], Eb = energy per information bit including pilot and cyclic-prefix "
    "overhead: no = sionna.phy.utils.ebnodb2no(ebno_db, bits_per_symbol, rate, resource_grid)",
    "no": "complex noise variance per RE; the channel has unit mean energy per RE per slot "
    "(OFDMChannel normalize_channel=True), so the per-RE SNR is -10*log10(no) dB",
    "stopping": "per point, a system runs until target_block_errors block errors or max_blocks "
    "blocks; a system with 0 block errors at a point is not run at higher points",
    "fairness": "all running systems decode the same batches (bits, channel, noise)",
}

Estimate = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]
"""``(y, no, h) -> (h_hat, err_var)``; ``h`` (the true channel) is for genie systems only."""


@dataclass(frozen=True)
class System:
    """One receiver: a name, a kind (``perfect``, ``ls``, ``lmmse-genie``, ``neural``), its
    channel estimate, and (neural) its run folder and priors."""

    name: str
    kind: str
    estimate: Estimate
    info: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **(self.info or {})}


@dataclass
class Counts:
    """Bits, codewords and their errors of one system at one point."""

    bits: int = 0
    bit_errors: int = 0
    blocks: int = 0
    block_errors: int = 0

    def add(self, bits: Tensor, bits_hat: Tensor) -> None:
        wrong = bits.reshape(bits.shape[0], -1) != bits_hat.reshape(bits.shape[0], -1)
        self.bits += wrong.numel()
        self.bit_errors += int(wrong.sum())
        self.blocks += wrong.shape[0]
        self.block_errors += int(wrong.any(dim=1).sum())

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ber": self.bit_errors / max(self.bits, 1),
                "bler": self.block_errors / max(self.blocks, 1)}  # fmt: skip


def baseline_systems(link: ReferenceLink, names: tuple[str, ...] = ("perfect", "ls",
                     "lmmse-genie")) -> list[System]:  # fmt: skip
    """Perfect CSI, LS (Sionna ``LSChannelEstimator``, linear interpolation) and LMMSE with
    the link's true TDL statistics (TDL channels only; skipped for CDL)."""
    from sionna.phy.ofdm import LSChannelEstimator

    systems = []
    for name in names:
        if name == "perfect":
            systems.append(System("perfect CSI", "perfect", PerfectCSI()))
        elif name == "ls":
            ls = LSChannelEstimator(link.rg, interpolation_type="lin", device=link.device)
            systems.append(System("LS", "ls", lambda y, no, h, ls=ls: ls(y, no),
                                  {"interpolation": "lin"}))  # fmt: skip
        elif name == "lmmse-genie" and link.link.channel.startswith("tdl"):
            est = GenieLMMSEEstimator(link.grid, link.link, link.rg, link.device)
            systems.append(System("LMMSE genie", "lmmse-genie", est,
                                  {"order": "f-t", "covariances": "true TDL delay spread, "
                                   "Doppler and no"}))  # fmt: skip
    return systems


def neural_system(link: ReferenceLink, run: Any, name: str | None = None, *,
                  delay_spread_ns: float | None = None, doppler_hz: float | None = None) -> System:  # fmt: skip
    """A trained estimator (:class:`TrainedRun` or run folder) as a system of the link.

    Its delay-spread and Doppler priors default to the link's true values.
    """
    from wirelessml.linksim.estimator import NeuralChannelEstimator

    est = NeuralChannelEstimator(
        run, link.rg, device=link.device,
        delay_spread_ns=link.link.delay_spread_ns if delay_spread_ns is None else delay_spread_ns,
        doppler_hz=link.link.doppler_hz if doppler_hz is None else doppler_hz,
    )  # fmt: skip
    info = {"run": est.run_name, "model": type(est.model).__name__}
    if est.uses_priors:
        info.update(prior_delay_spread_ns=est.delay_spread_ns, prior_doppler_hz=est.doppler_hz)
    return System(name or Path(est.run_name).name, "neural",
                  lambda y, no, h, est=est: est(y, no), info)  # fmt: skip


BatchHook = Callable[[int, float, dict[str, Counts], list[str]], None]
"""``hook(point_index, ebno_db, counts per system, names still running)`` after each batch."""


def run_linksim(
    link: ReferenceLink,
    systems: list[System],
    *,
    out: str | Path | None = None,
    on_batch: BatchHook | None = None,
) -> dict[str, Any]:
    """Simulate BER and BLER of every system at every Eb/N0 point of ``link.link``.

    Args:
        link: The reference link.
        systems: The receivers (names must be unique).
        out: Folder for ``results.json``/``.md``/``.png``, written after every point; if it
            holds results of the same config and systems, finished points are kept (resume).
        on_batch: Progress callback.

    Returns:
        The results dict (as written to ``results.json``).

    Raises:
        WirelessMLError: duplicate names, or ``out`` holds results of another run.
    """
    from sionna.phy import config as sionna_config

    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise WirelessMLError(f"system names must be unique, got {names}")
    cfg = link.link
    results = _start(link, systems, out)
    stopped = {n for p in results["points"] for n, c in p["systems"].items()
               if c["block_errors"] == 0}  # fmt: skip
    with torch.inference_mode():
        for i, ebno_db in enumerate(cfg.ebno_db):
            if i < len(results["points"]):
                continue
            active = [s for s in systems if s.name not in stopped]
            if not active:
                break
            no = link.no(ebno_db)
            counts = {s.name: Counts() for s in active}
            running, batch_index = active, 0
            while running:
                sionna_config.seed = block_seed(cfg.seed, i, batch_index)
                num = min(cfg.batch_size, cfg.max_blocks - counts[running[0].name].blocks)
                tx = link.transmit(num, no)
                llrs = [link.llr(tx["y"], *s.estimate(tx["y"], no, tx["h"]), no) for s in running]
                # One decoder call for all systems: codewords are decoded independently.
                decoded = link.decode(torch.cat(llrs)).split(num)
                for s, bits_hat in zip(running, decoded, strict=True):
                    counts[s.name].add(tx["bits"], bits_hat)
                running = [s for s in running if counts[s.name].block_errors
                           < cfg.target_block_errors and counts[s.name].blocks < cfg.max_blocks]  # fmt: skip
                batch_index += 1
                if on_batch is not None:
                    on_batch(i, ebno_db, counts, [s.name for s in running])
            results["points"].append({"ebno_db": ebno_db, "no": float(no),
                                      "systems": {n: c.as_dict() for n, c in counts.items()}})  # fmt: skip
            stopped |= {n for n, c in counts.items() if c.block_errors == 0}
            if out is not None:
                _write(Path(out), results)
    return results


def _start(link: ReferenceLink, systems: list[System], out: str | Path | None) -> dict[str, Any]:
    """Fresh results, or the finished points of the same run found in ``out``."""
    from wirelessml.train.run import versions

    fresh = {
        "format": RESULTS_FORMAT, "results_version": RESULTS_VERSION,
        "config": config_to_dict(link.link), "grid": config_to_dict(link.grid),
        "code": {"n": link.n, "k": link.k, "decoder": "LDPC5GDecoder boxplus-phi, 20 iterations"},
        "systems": [s.describe() for s in systems], "definitions": dict(DEFINITIONS),
        "versions": {**versions(), "sionna": importlib.metadata.version("sionna")},
        "device": str(link.device), "points": [],
    }  # fmt: skip
    fresh = json.loads(json.dumps(fresh))
    if out is None:
        return fresh
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WirelessMLError(f"--out {out} is a file; give a folder")
    path = out / "results.json"
    if not path.exists():
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WirelessMLError(f"cannot create {out}: {exc.strerror or exc}") from None
        return fresh
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WirelessMLError(f"{path} is not readable JSON ({exc}); use another --out") from None
    for key in ("format", "config", "grid", "systems"):
        if old.get(key) != fresh[key]:
            raise WirelessMLError(f"{out} holds linksim results with another {key}; use another "
                                  "--out (or the same options to resume)")  # fmt: skip
    fresh["points"] = old.get("points", [])
    return fresh


def _write(out: Path, results: dict[str, Any]) -> None:
    from wirelessml.linksim.report import markdown_report, plot_results
    from wirelessml.train.run import write_json_atomic, write_text_atomic

    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", markdown_report(results))
    plot_results(results, out / "results.png")
