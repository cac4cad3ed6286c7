"""Shared fixtures: a tiny field set, deterministic data for it, and a one-call writer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wirelessml.datasets import DatasetWriter, FieldSpec

NUM_SAMPLES = 10
CONFIG = {"_type": "ofdm", "_version": 1, "_data": {"snr_db": [0, 25], "num_rx_ant": 2}}


@pytest.fixture
def num_samples() -> int:
    return NUM_SAMPLES


@pytest.fixture
def config() -> dict:
    """A config in the registry's ``{_type, _version, _data}`` JSON form."""
    return json.loads(json.dumps(CONFIG))


@pytest.fixture
def specs() -> list[FieldSpec]:
    return [
        FieldSpec(
            name="h",
            shape=(2, 3),
            dtype="complex64",
            unit="1",
            dims=("num_rx_ant", "num_subcarriers"),
            description="channel frequency response",
        ),
        FieldSpec(name="snr_db", shape=(), dtype="float32", unit="dB", dims=(), description="SNR"),
        FieldSpec(name="label", shape=(), dtype="int64", unit="1", dims=(), description="class"),
        FieldSpec(name="model", shape=(), dtype="S8", unit="", dims=(), description="TDL model"),
    ]


@pytest.fixture
def data() -> dict[str, np.ndarray]:
    """NUM_SAMPLES rows of every field; complex values with full float32 mantissas."""
    rng = np.random.default_rng(1234)
    h = rng.standard_normal((NUM_SAMPLES, 2, 3, 2)).astype(np.float32)
    return {
        "h": h[..., 0] + 1j * h[..., 1],
        "snr_db": rng.uniform(0, 25, NUM_SAMPLES).astype(np.float32),
        "label": np.arange(NUM_SAMPLES, dtype=np.int64) * 7,
        "model": np.array([f"tdl-{'abcde'[i % 5]}{i}" for i in range(NUM_SAMPLES)], dtype="S8"),
    }


@pytest.fixture
def block(data: dict[str, np.ndarray]) -> Callable[[int, int], dict[str, np.ndarray]]:
    """Rows ``[start, stop)`` of ``data``, as one block for :meth:`DatasetWriter.write`."""
    return lambda start, stop: {name: array[start:stop] for name, array in data.items()}


@pytest.fixture
def make_writer(specs: list[FieldSpec]) -> Callable[..., DatasetWriter]:
    def make(path: Path, **overrides: object) -> DatasetWriter:
        kwargs: dict[str, object] = {
            "simulator": "ofdm",
            "config_json": json.dumps(CONFIG),
            "seed": 7,
            "num_samples": NUM_SAMPLES,
            "fields": specs,
            "chunk_samples": 4,
        }
        kwargs.update(overrides)
        return DatasetWriter(path, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def written(tmp_path: Path, make_writer, block) -> Path:
    """A complete dataset file holding ``data``, written in three uneven blocks."""
    path = tmp_path / "ofdm.h5"
    with make_writer(path, attrs={"carrier_frequency": 3.5e9, "pilots": [2, 11]}) as writer:
        for start, stop in ((0, 3), (3, 4), (4, NUM_SAMPLES)):
            writer.write(block(start, stop))
        writer.finish()
    return path
