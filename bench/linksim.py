"""Link level (issue 4): a trained AdaFortiTran inside a Sionna 5G-LDPC OFDM link.

Three parts, each saved into ``bench/results/linksim.json`` as soon as it is done:

- ``priors``: NMSE of the estimator on the link's own channel (TDL-A, 200 ns, 500 Hz) at
  per-RE SNR 5/10/20 dB with correct and wrong delay-spread / Doppler priors (no decoding).
- ``cost``: ``run_linksim`` with one system (the neural estimator) against the same
  hand-written plain Sionna pipeline with the same estimator block, for the same number of
  blocks, alternating, ``--repeats`` times; median of the paired time ratios.
- ``issue``: the issue's setup (16QAM, LDPC rate 1/2, TDL-A, 500 Hz, 200 ns) with perfect
  CSI, LS, LMMSE genie and the run; Eb/N0 at BLER 10 % by log-interpolation and the gap to
  perfect CSI. Its points go to ``bench/results/linksim_issue/`` as they finish
  (rerunning resumes).

    nice python bench/linksim.py --run /work/bench3/runs/ada [--threads 1] [--parts priors,cost,issue]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from wirelessml.linksim import NeuralChannelEstimator, load_trained_run
from wirelessml.linksim.link import LinkConfig, ReferenceLink
from wirelessml.linksim.report import ebno_at_bler
from wirelessml.linksim.runner import baseline_systems, neural_system, run_linksim
from wirelessml.train.run import write_json_atomic

RESULTS = Path(__file__).parent / "results" / "linksim.json"
ISSUE_OUT = Path(__file__).parent / "results" / "linksim_issue"


def _save(key: str, value: object) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    data["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "torch_threads": torch.get_num_threads(), "gpu": torch.cuda.is_available()}  # fmt: skip
    write_json_atomic(RESULTS, data)
    print(json.dumps({key: value}, indent=1), flush=True)


def priors_part(run, grid) -> dict:
    """NMSE [dB] on the link's channel with correct and wrong priors."""
    from sionna.phy import config as sionna_config

    link = ReferenceLink(LinkConfig(), grid)
    out = {}
    for snr_db in (5.0, 10.0, 20.0):
        no = torch.tensor(10 ** (-snr_db / 10))
        sionna_config.seed = 11
        tx = link.transmit(200, no)  # 200 slots, the same for every prior
        h = tx["h"]
        row = {}
        for ds, fd in ((200, 500), (200, 100), (200, 900), (50, 500), (350, 500), (None, None)):
            est = NeuralChannelEstimator(run, link.rg, delay_spread_ns=ds, doppler_hz=fd)
            with torch.inference_mode():
                h_hat, _ = est(tx["y"], no)
            nmse = float(
                ((h_hat - h).abs().square().sum((-1, -2)) / h.abs().square().sum((-1, -2))).mean()
            )
            label = "training mean" if ds is None else f"ds {ds} ns, fd {fd} Hz"
            row[label] = round(10 * np.log10(nmse), 2)
        from sionna.phy.ofdm import LSChannelEstimator

        h_ls, _ = LSChannelEstimator(link.rg, interpolation_type="lin")(tx["y"], no)
        row["LS (lin)"] = round(10 * np.log10(float(((h_ls - h).abs().square().sum((-1, -2))
                                                      / h.abs().square().sum((-1, -2))).mean())), 2)  # fmt: skip
        out[f"snr {snr_db:g} dB"] = row
    return {"true_channel": "tdl-a, 200 ns, 500 Hz", "nmse_db": out}


def _plain_pipeline(run, grid, ebno_db: float, blocks: int, batch: int) -> float:
    """The same link written by hand with Sionna blocks (no wirelessml helper but the
    estimator block itself and the grid): seconds for ``blocks`` codewords."""
    from sionna.phy import config as sionna_config
    from sionna.phy.channel import OFDMChannel
    from sionna.phy.channel.tr38901 import TDL
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import BinarySource, Demapper, Mapper
    from sionna.phy.mimo import StreamManagement
    from sionna.phy.ofdm import LMMSEEqualizer, ResourceGridMapper
    from sionna.phy.utils import ebnodb2no

    from wirelessml.linksim import resource_grid

    t0 = time.perf_counter()
    rg = resource_grid(grid)
    n = rg.num_data_symbols * 4
    k = n // 2
    src, enc = BinarySource(), LDPC5GEncoder(k, n)
    dec = LDPC5GDecoder(enc, hard_out=True)
    mapper, demapper, rgm = Mapper("qam", 4), Demapper("app", "qam", 4), ResourceGridMapper(rg)
    speed = 500 * 299_792_458.0 / grid.carrier_frequency_hz
    tdl = TDL("A", 200e-9, grid.carrier_frequency_hz, min_speed=speed, max_speed=speed)
    channel = OFDMChannel(tdl, rg, add_awgn=True, normalize_channel=True)
    eq = LMMSEEqualizer(rg, StreamManagement(np.ones([1, 1]), 1))
    est = NeuralChannelEstimator(run, rg, delay_spread_ns=200.0, doppler_hz=500.0)
    no = ebnodb2no(ebno_db, 4, 0.5, rg)
    errors = 0
    with torch.inference_mode():
        for i in range(blocks // batch):
            sionna_config.seed = i
            bits = src([batch, 1, 1, k])
            y = channel(rgm(mapper(enc(bits))), no)
            h_hat, err_var = est(y, no)
            x_hat, no_eff = eq(y, h_hat, err_var, no)
            errors += int((dec(demapper(x_hat, no_eff)) != bits).any(-1).sum())
    return time.perf_counter() - t0


def _linksim(run, grid, ebno_db: float, blocks: int, batch: int, out: Path) -> float:
    t0 = time.perf_counter()
    cfg = LinkConfig(ebno_db=(ebno_db,), target_block_errors=10**9, max_blocks=blocks,
                     batch_size=batch)  # fmt: skip
    link = ReferenceLink(cfg, grid)
    for f in out.glob("results.*"):
        f.unlink()
    run_linksim(link, [neural_system(link, run, "ada")], out=out)
    return time.perf_counter() - t0


def cost_part(run, grid, repeats: int, blocks: int, batch: int) -> dict:
    out = Path("/tmp") / f"linksim_cost_{os.getpid()}"
    _plain_pipeline(run, grid, 8.0, batch, batch)  # warm-up (first calls, allocations)
    plain, ours = [], []
    for _ in range(repeats):
        plain.append(_plain_pipeline(run, grid, 8.0, blocks, batch))
        ours.append(_linksim(run, grid, 8.0, blocks, batch, out))
        print(f"plain {plain[-1]:.1f} s, linksim {ours[-1]:.1f} s", flush=True)
    ratios = [o / p for o, p in zip(ours, plain, strict=True)]
    return {"blocks": blocks, "batch_size": batch, "ebno_db": 8.0, "system": "ada (neural)",
            "plain_s": plain, "linksim_s": ours, "ratios": ratios,
            "median_ratio": statistics.median(ratios), "target": 1.2}  # fmt: skip


def issue_part(
    run,
    grid,
    ebno: tuple[float, ...],
    target: int,
    max_blocks: int,
    batch: int,
    out: Path = ISSUE_OUT,
    baselines: tuple[str, ...] = ("perfect", "ls", "lmmse-genie"),
) -> dict:
    cfg = LinkConfig(modulation="16qam", rate=0.5, channel="tdl-a", delay_spread_ns=200.0,
                     doppler_hz=500.0, ebno_db=ebno, target_block_errors=target,
                     max_blocks=max_blocks, batch_size=batch, seed=0)  # fmt: skip
    link = ReferenceLink(cfg, grid)
    systems = baseline_systems(link, baselines) + [neural_system(link, run, "ada")]
    t0 = time.perf_counter()

    def hook(i, e, counts, running):  # noqa: ANN001
        if not running:
            done = {n: f"{c.block_errors}/{c.blocks}" for n, c in counts.items()}
            print(f"Eb/N0 {e:g} dB done after {time.perf_counter() - t0:.0f} s: {done}", flush=True)

    res = run_linksim(link, systems, out=out, on_batch=hook)
    return {
        "wall_s": time.perf_counter() - t0,
        "results": str(out / "results.json"),
        **summarize([res]),
    }


def summarize(parts: list[dict], png: Path | None = None) -> dict:
    """Eb/N0 at BLER 10 % and gaps to perfect CSI over the points of one or more runs of the
    same link (e.g. low and high Eb/N0 run side by side), merged by Eb/N0."""
    res = dict(parts[0])
    points: dict[float, dict] = {}
    for part in parts:
        for p in part["points"]:
            points.setdefault(p["ebno_db"], {"ebno_db": p["ebno_db"], "no": p["no"],
                                             "systems": {}})["systems"].update(p["systems"])  # fmt: skip
    res["points"] = [points[e] for e in sorted(points)]
    names = [s["name"] for s in res["systems"]]
    if png is not None:
        from wirelessml.linksim.report import plot_results

        plot_results(res, png)
    at = {n: ebno_at_bler(res, n, 0.1) for n in names}
    ref = at.get("perfect CSI")
    gaps = {n: (None if v is None or ref is None else round(v - ref, 2)) for n, v in at.items()}
    table = {p["ebno_db"]: {n: f"{c['block_errors']}/{c['blocks']}" for n, c in p["systems"].items()}
             for p in res["points"]}  # fmt: skip
    return {"config": res["config"], "ebno_at_bler_10pct_db": at, "gap_to_perfect_db": gaps,
            "target_gap_db": 1.0, "block_errors_per_point": table}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", default="/work/bench3/runs/ada")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--parts", default="priors,cost,issue")
    p.add_argument("--ebno-db", default="4,5,6,7,8,9,10,11,12,13,14")
    p.add_argument("--target-block-errors", type=int, default=100)
    p.add_argument("--max-blocks", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cost-blocks", type=int, default=200)
    p.add_argument("--issue-out", default=str(ISSUE_OUT))
    p.add_argument("--baselines", default="perfect,ls,lmmse-genie")
    p.add_argument("--merge", default=None, help="summary: comma-separated issue folders")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    run = load_trained_run(a.run)
    grid = run.config
    parts = a.parts.split(",")
    if "priors" in parts:
        _save("priors", priors_part(run, grid))
    if "cost" in parts:
        _save("cost", cost_part(run, grid, a.repeats, a.cost_blocks, a.batch_size))
    if "issue" in parts:
        ebno = tuple(float(v) for v in a.ebno_db.split(","))
        out = Path(a.issue_out)
        _save(f"issue:{out.name}", issue_part(run, grid, ebno, a.target_block_errors,
                                              a.max_blocks, a.batch_size, out,
                                              tuple(a.baselines.split(","))))  # fmt: skip
    if "summary" in parts:
        folders = [Path(f) for f in (a.merge or str(ISSUE_OUT)).split(",")]
        merged = [json.loads((f / "results.json").read_text()) for f in folders]
        png = RESULTS.parent / "linksim_issue.png"
        _save("issue", {"folders": [str(f) for f in folders], "png": str(png),
                        **summarize(merged, png)})  # fmt: skip


if __name__ == "__main__":
    main()
