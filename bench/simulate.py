"""Benchmark: OFDM simulation into HDF5 against a plain Sionna loop that writes nothing.

Measures, side by side in one run:

1. throughput (samples/s) of ``wirelessml.simulate`` (draws, Sionna calls, pilot gathering,
   HDF5 writes with a flush per block) against a plain loop over the same Sionna calls
   (TDL -> cir_to_ofdm_channel -> ApplyOFDMChannel on the pilot REs, same block size) that
   keeps nothing;
   the two alternate ``--repeats`` times and the medians and their ratio are reported;
2. peak resident memory of a whole ``simulate`` process at 10k and at 50k samples
   (each in its own subprocess, ``VmHWM``), and their ratio;
3. throughput of the other channel families (CDL, UMa) for reference.

Usage:
    python bench/simulate.py [--samples 10240] [--repeats 5] [--out bench/results/simulate.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def plain_sionna_loop(num_samples: int, block_size: int) -> float:
    """Samples/s of the Sionna calls alone, as a user would write them, keeping nothing."""
    from sionna.phy import config as sionna_config
    from sionna.phy.channel import ApplyOFDMChannel, cir_to_ofdm_channel, subcarrier_frequencies
    from sionna.phy.channel.tr38901 import TDL

    from wirelessml.simulators import OFDMConfig
    from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT as c_light

    c = OFDMConfig()
    sionna_config.seed = 1
    tdl = TDL("A", delay_spread=160e-9, carrier_frequency=c.carrier_frequency_hz,
              min_speed=c.doppler_hz[0] * c_light / c.carrier_frequency_hz,
              max_speed=c.doppler_hz[1] * c_light / c.carrier_frequency_hz)  # fmt: skip
    freqs = subcarrier_frequencies(c.fft_size, c.subcarrier_spacing_hz)
    apply = ApplyOFDMChannel()
    sym, sc = list(c.pilot_ofdm_symbols), list(c.pilot_subcarriers)
    x = torch.ones(block_size, 1, 1, len(sym), len(sc), dtype=torch.complex64)
    t0 = time.perf_counter()
    done = 0
    with torch.no_grad():
        while done < num_samples:
            n = min(block_size, num_samples - done)
            a, tau = tdl(n, c.num_ofdm_symbols, 1.0 / c.ofdm_symbol_duration_s)
            h = cir_to_ofdm_channel(freqs, a, tau, normalize=True)
            no = 10 ** (-torch.rand(n) * 2.5)
            apply(x[:n], h[..., sym, :][..., sc], no[:, None, None, None, None])
            done += n
    return num_samples / (time.perf_counter() - t0)


def wirelessml_simulate(num_samples: int, model: str = "tdl-a") -> float:
    """Samples/s of ``wirelessml.simulate`` into an HDF5 file (excluding Sionna's import)."""
    import wirelessml
    from wirelessml.simulators import OFDMConfig

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        wirelessml.simulate("ofdm", OFDMConfig(channel_model=model), num_samples=num_samples,
                            out=Path(tmp) / "a.h5", seed=1)  # fmt: skip
        return num_samples / (time.perf_counter() - t0)


def peak_memory_mb(num_samples: int) -> float:
    """Peak RSS [MB] of a fresh process that simulates ``num_samples`` samples.

    Read from ``VmHWM`` in /proc: ``ru_maxrss`` would be wrong here, since Linux carries a
    process's high-water mark across fork and exec, so the child would report the parent's.
    """
    code = (
        "import tempfile, wirelessml\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        f"    wirelessml.simulate('ofdm', num_samples={num_samples}, out=d + '/a.h5')\n"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10240)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results/simulate.json")
    args = parser.parse_args()

    import sionna.phy  # noqa: F401  (import cost outside every timing)

    plain_sionna_loop(512, 256)  # warm-up both paths
    wirelessml_simulate(512)
    plain, ours = [], []
    for i in range(args.repeats):
        plain.append(plain_sionna_loop(args.samples, 256))
        ours.append(wirelessml_simulate(args.samples))
        print(f"repeat {i}: plain {plain[-1]:,.0f}/s, wirelessml {ours[-1]:,.0f}/s", flush=True)
    others = {m: wirelessml_simulate(2048, m) for m in ("cdl-c", "uma")}
    mem = {n: peak_memory_mb(n) for n in (10_000, 50_000)}
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"torch threads, torch {torch.__version__}, python {platform.python_version()}",
        "samples_per_repeat": args.samples,
        "plain_sionna_samples_per_s": plain,
        "wirelessml_samples_per_s": ours,
        "median_plain": statistics.median(plain),
        "median_wirelessml": statistics.median(ours),
        "ratio_of_medians": statistics.median(ours) / statistics.median(plain),
        "median_of_paired_ratios": statistics.median(o / p for o, p in zip(ours, plain, strict=True)),
        "other_models_samples_per_s": others,
        "peak_rss_mb": mem,
        "peak_rss_ratio_50k_over_10k": mem[50_000] / mem[10_000],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
