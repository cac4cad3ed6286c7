"""The resource grid of a trained estimator: rebuilt from its training config, and checked.

A channel estimator trained by ``wirelessml train`` knows the OFDM grid of its training
data through the run's ``run.json`` (``meta["datasets"]["train"]["config"]``; runs made
before that key existed fall back to the training file's config). This module turns that
:class:`~wirelessml.simulators.ofdm_config.OFDMConfig` back into a Sionna
``ResourceGrid`` and refuses a grid the estimator was not trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from wirelessml.config import config_from_dict
from wirelessml.errors import WirelessMLError
from wirelessml.simulators.ofdm_config import OFDMConfig

__all__ = ["GridMismatchError", "check_grid", "pilot_sequence", "resource_grid", "training_config"]


class GridMismatchError(WirelessMLError):
    """A resource grid differs from the grid an estimator was trained on."""


def training_config(meta: dict[str, Any], run: object = "the run") -> OFDMConfig:
    """The :class:`OFDMConfig` of a run's training data.

    Read from ``meta["datasets"]["train"]["config"]``; runs trained before that key existed
    fall back to the config stored in the training file itself.

    Raises:
        WirelessMLError: neither is available, or the data are not ``ofdm`` data.
    """
    train = meta.get("datasets", {}).get("train", {})
    payload = train.get("config")
    if payload is None:
        path = train.get("path")
        if path is None or not Path(path).exists():
            raise WirelessMLError(
                f"{run}: run.json has no training-data config and its training file "
                f"{path!r} is not readable; retrain with this wirelessml (it stores the config)"
            )
        from wirelessml.datasets import read_info

        payload = read_info(path).config
    if payload.get("_type") != "ofdm":
        raise WirelessMLError(f"{run} was trained on {payload.get('_type')!r} data, not on an "
                              "OFDM resource grid ('ofdm'); linksim needs an OFDM estimator")  # fmt: skip
    return config_from_dict(OFDMConfig, payload["_data"])


def pilot_sequence(config: OFDMConfig) -> torch.Tensor:
    """The fixed unit-modulus QPSK pilots ``[P_t, P_f]`` of the OFDM simulator for ``config``.

    The same draw as :class:`~wirelessml.simulators.ofdm.OFDMSimulator` (seeded by
    ``pilot_seed``; a test checks the equality). LS-based estimators divide the pilots out,
    so any unit-modulus pilots give the same statistics; these make the link's pilot REs
    those of the training data.
    """
    gen = torch.Generator().manual_seed(config.pilot_seed)
    bits = torch.randint(0, 2, (2, len(config.pilot_ofdm_symbols), config.num_pilots_per_symbol),
                         generator=gen)  # fmt: skip
    re, im = (1.0 - 2.0 * bits.to(torch.float32)) / np.sqrt(2.0)
    return torch.complex(re, im)


def resource_grid(config: OFDMConfig, device: str | None = None) -> Any:
    """A Sionna ``ResourceGrid`` (one transmitter, one stream) with ``config``'s grid and pilots.

    No guard carriers and no DC null (the simulator uses every subcarrier); every RE that is
    not a pilot carries data.

    Examples:
        >>> rg = resource_grid(OFDMConfig())
        >>> rg.num_ofdm_symbols, rg.fft_size, rg.num_data_symbols
        (14, 120, 1656)
    """
    from sionna.phy.ofdm import PilotPattern, ResourceGrid

    sym = np.asarray(config.pilot_ofdm_symbols)
    sc = np.asarray(config.pilot_subcarriers)
    mask = np.zeros((1, 1, config.num_ofdm_symbols, config.fft_size), dtype=bool)
    mask[0, 0, sym[:, None], sc[None, :]] = True
    # Sionna orders a pattern's pilots along the flattened mask (symbol-major).
    pilots = pilot_sequence(config).numpy().reshape(1, 1, -1)
    pattern = PilotPattern(mask, pilots, device=device)
    return ResourceGrid(num_ofdm_symbols=config.num_ofdm_symbols, fft_size=config.fft_size,
                        subcarrier_spacing=config.subcarrier_spacing_hz,
                        cyclic_prefix_length=config.cyclic_prefix_length, pilot_pattern=pattern,
                        device=device)  # fmt: skip


def check_grid(rg: Any, config: OFDMConfig, run: object = "the estimator") -> None:
    """Refuse a Sionna ``ResourceGrid`` other than the one ``config`` describes.

    Checked: one transmitter with one stream, FFT size, OFDM symbols, subcarrier spacing,
    no nulled subcarriers, and the pilot positions (the pilot OFDM symbols and pilot
    subcarriers; the pilot values are divided out by LS and not checked). The cyclic prefix
    is not checked: it only stretches the OFDM symbol time by ``1 + cp / fft_size``, which
    the model sees like a Doppler change of that factor.

    Raises:
        GridMismatchError: naming the first field that differs, with both values.
    """

    def fail(field: str, ours: object, theirs: object) -> None:
        raise GridMismatchError(
            f"{run} was trained on another resource grid: {field} is {ours} in its training "
            f"data but {theirs} in the link's grid; use an estimator trained on this grid"
        )

    if (rg.num_tx, rg.num_streams_per_tx) != (1, 1):
        fail("num_tx x num_streams_per_tx", "1 x 1", f"{rg.num_tx} x {rg.num_streams_per_tx}")
    for field, ours, theirs in (
        ("fft_size", config.fft_size, rg.fft_size),
        ("num_ofdm_symbols", config.num_ofdm_symbols, rg.num_ofdm_symbols),
        ("subcarrier_spacing", config.subcarrier_spacing_hz, float(rg.subcarrier_spacing)),
        ("num_effective_subcarriers (guards/DC null)", config.fft_size,
         rg.num_effective_subcarriers),
    ):  # fmt: skip
        if ours != theirs:
            fail(field, ours, theirs)
    mask = rg.pilot_pattern.mask[0, 0].to(torch.bool).cpu()
    symbols = tuple(int(s) for s in torch.nonzero(mask.any(dim=1)).flatten())
    if symbols != tuple(config.pilot_ofdm_symbols):
        fail("pilot_ofdm_symbols", tuple(config.pilot_ofdm_symbols), symbols)
    for s in symbols:
        subcarriers = tuple(int(k) for k in torch.nonzero(mask[s]).flatten())
        if subcarriers != tuple(config.pilot_subcarriers):
            fail(f"pilot subcarriers of OFDM symbol {s}", _short(config.pilot_subcarriers),
                 _short(subcarriers))  # fmt: skip


def _short(values: tuple[int, ...]) -> str:
    return (
        str(values)
        if len(values) <= 6
        else f"({', '.join(map(str, values[:5]))}, ... {len(values)} in all)"
    )
