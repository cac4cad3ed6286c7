"""Helpers of the training tests: tiny synthetic channel-estimation datasets, tiny model sizes.

The synthetic files have the ``ofdm`` family's field names and shapes (14 OFDM symbols x
12 subcarriers, pilots on symbols 2 and 11 every 4th subcarrier) but are made with numpy,
so these tests need no Sionna and take milliseconds to write.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wirelessml.datasets import DatasetWriter, FieldSpec

NUM_SYMBOLS, NUM_SUBCARRIERS = 14, 12
PILOT_SYMBOLS, PILOT_SUBCARRIERS = (2, 11), (0, 4, 8)
CONFIG_JSON = json.dumps({"_type": "ofdm", "_version": 1, "_data": {"synthetic": True}})

# Small enough that one step takes a few ms on a busy 2-core CPU.
TINY_MODEL = {
    "num_ofdm_symbols": NUM_SYMBOLS, "num_subcarriers": NUM_SUBCARRIERS,
    "pilot_ofdm_symbols": PILOT_SYMBOLS, "num_pilots_per_symbol": len(PILOT_SUBCARRIERS),
    "patch_subcarriers": 6, "patch_symbols": 2, "d_model": 8, "num_layers": 1,
    "num_heads": 2, "dim_feedforward": 16, "enhancer_channels": (4,), "prior_hidden": (4,),
}  # fmt: skip
TINY_SET = [f"--set={k}={v!r}" for k, v in TINY_MODEL.items()]
"""The same sizes as ``wirelessml train --set`` options."""


def _spec(name: str, shape: tuple[int, ...], dtype: str = "float32") -> FieldSpec:
    dims = ("rx_ant", "a", "b")[: len(shape)]
    return FieldSpec(name=name, shape=shape, dtype=dtype, unit="1", dims=dims, description=name)


def synthetic_arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    """A smooth random channel (3 taps, linear phase ramp over time) and its LS at the pilots."""
    rng = np.random.default_rng(seed)
    f = np.arange(NUM_SUBCARRIERS)[None, None, :]
    t = np.arange(NUM_SYMBOLS)[None, :, None]
    h = np.zeros((n, NUM_SYMBOLS, NUM_SUBCARRIERS), dtype=np.complex128)
    for _ in range(3):
        gain = (rng.standard_normal((n, 1, 1)) + 1j * rng.standard_normal((n, 1, 1))) / np.sqrt(6)
        delay, doppler = rng.uniform(0, 0.1, (n, 1, 1)), rng.uniform(-0.02, 0.02, (n, 1, 1))
        h += gain * np.exp(-2j * np.pi * (delay * f - doppler * t))
    snr_db = rng.uniform(10, 30, n)
    no = 10 ** (-snr_db / 10)
    pilots = h[:, PILOT_SYMBOLS][:, :, PILOT_SUBCARRIERS]
    noise = rng.standard_normal(pilots.shape) + 1j * rng.standard_normal(pilots.shape)
    h_ls = pilots + np.sqrt(no / 2)[:, None, None] * noise
    return {
        "h": h[:, None].astype(np.complex64), "h_ls": h_ls[:, None].astype(np.complex64),
        "no": no.astype(np.float32), "snr_db": snr_db.astype(np.float32),
        "delay_spread_ns": rng.uniform(25, 300, n).astype(np.float32),
        "doppler_hz": rng.uniform(50, 1000, n).astype(np.float32),
    }  # fmt: skip


def write_synthetic(path: Path, n: int, *, seed: int = 0, simulator: str = "ofdm",
                    drop: str | None = None, nan_at: tuple[str, int] | None = None) -> Path:  # fmt: skip
    """Write a synthetic dataset; ``drop`` leaves out a field, ``nan_at`` puts a NaN in one."""
    arrays = synthetic_arrays(n, seed)
    if nan_at is not None:
        field, row = nan_at
        arrays[field].reshape(n, -1)[row, 0] = np.nan
    arrays.pop(drop, None)
    specs = [_spec(k, v.shape[1:], "complex64" if v.dtype.kind == "c" else "float32")
             for k, v in arrays.items()]  # fmt: skip
    with DatasetWriter(path, simulator=simulator, config_json=CONFIG_JSON, seed=seed,
                       num_samples=n, fields=specs) as writer:  # fmt: skip
        writer.write(arrays)
        return writer.finish()
