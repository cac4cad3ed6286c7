"""CSI time series on Sionna PHY: UL history and the UL (TDD) or DL (FDD) future of a moving UE.

Sionna does the physics: the 3GPP TR 38.901 :class:`~sionna.phy.channel.tr38901.CDL`
model (uplink, a BS :class:`~sionna.phy.channel.tr38901.PanelArray` of cross-polarized
38.901 elements, one omnidirectional UE antenna) draws the channel impulse response,
sampled **only at the snapshot times** (``num_history + num_horizon`` samples at
``1 / snapshot_interval_s``; the sum of sinusoids is exact at any instant, so nothing
between snapshots is computed), and :func:`~sionna.phy.channel.cir_to_ofdm_channel`
evaluates it at the stored subcarriers of the UL and DL bands.

Definitions (also written into every dataset's attributes):

- ``h_hist[a, t, k]``: UL channel at BS port ``a``, snapshot ``t`` (``t = 0`` oldest, one
  every ``snapshot_interval_s``), UL subcarrier ``k``. ``h_future`` continues it for
  ``num_horizon`` snapshots: on the UL subcarriers (TDD) or the DL subcarriers (FDD).
- Channel normalization, per sample: the impulse response is scaled so that the mean
  over BS ports and snapshots of the total path power :math:`\\sum_p |a_p|^2` is 1, i.e.
  unit mean energy per resource element; the scale does not depend on the bands, so
  the UL and DL bands of one sample share it.
- ``doppler_hz = speed_mps * carrier_frequency / c``; the UE moves horizontally in a
  uniformly random direction at constant speed.
- No noise is stored: noise is applied when the data is loaded
  (:mod:`wirelessml.tasks.csi_noise`), so one file serves every robustness test.
"""

from __future__ import annotations

import numpy as np
import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import cir_to_ofdm_channel
from sionna.phy.channel.tr38901 import CDL, PanelArray

from wirelessml.datasets import FieldSpec
from wirelessml.simulators.csi_series_config import CDL_MODELS, CSISeriesConfig
from wirelessml.simulators.ofdm import _random_velocity, block_seed

__all__ = ["DEFINITIONS", "CSISeriesSimulator"]

DEFINITIONS = {
    "channel_normalization": "per sample: mean over BS ports and snapshots of sum_p |a_p|^2 = 1 "
    "(unit mean energy per RE, the same scale for the UL and DL bands)",
    "snapshot_definition": "h_hist[:, t]: snapshot t (0 = oldest) of the UL band; h_future[:, "
    "j]: snapshot num_history + j, on the UL band (tdd) or the DL band (fdd)",
    "doppler_definition": "maximum Doppler shift f_D = speed * carrier_frequency / c [Hz]; "
    "horizontal motion in a uniformly random direction at constant speed",
    "delay_spread_definition": "RMS delay spread the 38.901 CDL profile is scaled to",
    "noise_definition": "clean channels; noise is applied at loading (wirelessml.tasks.csi_noise)",
}


class CSISeriesSimulator:
    """Generates blocks of CSI time series (UL history, UL or DL future).

    Args:
        config: The data configuration.
        device: Torch device for Sionna's blocks (``None``: Sionna's default).

    Shapes (one block of ``n`` samples; ``A`` BS ports, ``H`` history, ``F`` horizon):
        h_hist: [n, A, H, num_ul_subcarriers], complex64
        h_future: [n, A, F, K], complex64 (``K`` UL subcarriers for TDD, DL for FDD)
        speed_mps, doppler_hz, delay_spread_ns: [n], float32
        channel_model_id: [n], int64 (0..4 for CDL-A..E); channel_model: [n], bytes (``S8``)

    Examples:
        >>> sim = CSISeriesSimulator(CSISeriesConfig(block_size=2))
        >>> block = sim.generate_block(seed=0, block_index=0, num=2)
        >>> tuple(block["h_hist"].shape), tuple(block["h_future"].shape)
        ((2, 8, 16, 50), (2, 8, 4, 50))
    """

    def __init__(self, config: CSISeriesConfig, *, device: str | None = None) -> None:
        self.config = config
        self.device = device or sionna_config.device
        ul, dl = config.band_frequencies_hz()
        band = ul if config.duplex == "tdd" else dl
        self._f_ul = torch.tensor(ul, dtype=torch.float32, device=self.device)
        self._f_target = torch.tensor(band, dtype=torch.float32, device=self.device)
        c = config
        self._bs_array = PanelArray(
            num_rows_per_panel=c.resolved("bs_rows"), num_cols_per_panel=c.resolved("bs_cols"),
            polarization="dual", polarization_type="cross", antenna_pattern="38.901",
            carrier_frequency=c.carrier_frequency_hz, device=self.device,
        )  # fmt: skip
        self._ut_array = PanelArray(
            num_rows_per_panel=1, num_cols_per_panel=1, polarization="single",
            polarization_type="V", antenna_pattern="omni",
            carrier_frequency=c.carrier_frequency_hz, device=self.device,
        )  # fmt: skip

    # -------------------------------------------------------------- schema
    def fields(self) -> list[FieldSpec]:
        """The per-sample fields this simulator writes, with units and dimension names."""
        c = self.config
        a, k_ul, k = c.num_bs_ant, c.resolved("num_ul_subcarriers"), c.target_subcarriers
        band = "UL" if c.duplex == "tdd" else "DL"
        cplx = "complex64"
        return [
            FieldSpec(name="h_hist", shape=(a, c.num_history, k_ul), dtype=cplx, unit="1",
                      dims=("bs_ant", "snapshot", "ul_subcarrier"),
                      description="clean UL channel, history snapshots (oldest first)"),
            FieldSpec(name="h_future", shape=(a, c.num_horizon, k), dtype=cplx, unit="1",
                      dims=("bs_ant", "snapshot", f"{band.lower()}_subcarrier"),
                      description=f"clean {band} channel of the next snapshots (the target, "
                      f"{c.duplex.upper()})"),
            _scalar("speed_mps", "m/s", "UE speed"),
            _scalar("doppler_hz", "Hz", "maximum Doppler shift of that speed"),
            _scalar("delay_spread_ns", "ns", "RMS delay spread of the CDL profile"),
            FieldSpec(name="channel_model_id", shape=(), dtype="int64", unit="1", dims=(),
                      description="CDL model: 0..4 for CDL-A..E"),
            FieldSpec(name="channel_model", shape=(), dtype="S8", unit="", dims=(),
                      description="3GPP TR 38.901 channel model"),
        ]  # fmt: skip

    def attrs(self) -> dict[str, object]:
        """Root attributes: band frequencies, snapshot times and the definitions."""
        c = self.config
        ul, dl = c.band_frequencies_hz()
        return {
            "ul_frequencies_hz": np.asarray(ul, dtype=np.float64),
            "dl_frequencies_hz": np.asarray(dl, dtype=np.float64),
            "snapshot_times_s": np.arange(c.num_snapshots) * c.snapshot_interval_s,
            "num_bs_ant": c.num_bs_ant,
            **DEFINITIONS,
        }

    # -------------------------------------------------------------- generation
    def conditions(self, seed: int, block_index: int, num: int) -> dict[str, torch.Tensor]:
        """Per-sample CDL model index (into ``channel_models``), delay spread [ns], speed [m/s]."""
        c = self.config
        if c.mode == "grid":
            start = block_index * c.block_size
            rows = [
                c.grid_conditions[i % len(c.grid_conditions)] for i in range(start, start + num)
            ]
            model = torch.tensor([c.channel_models.index(r[0]) for r in rows])
            ds = torch.tensor([r[1] for r in rows], dtype=torch.float64)
            speed = torch.tensor([r[2] for r in rows], dtype=torch.float64)
        else:
            gen = torch.Generator().manual_seed(block_seed(seed, block_index, stream=1))
            u = torch.rand(3, num, generator=gen, dtype=torch.float64)
            model = (
                (u[0] * len(c.channel_models)).floor().long().clamp_max(len(c.channel_models) - 1)
            )
            ds = c.delay_spread_ns[0] + u[1] * (c.delay_spread_ns[1] - c.delay_spread_ns[0])
            speed = c.speed_mps[0] + u[2] * (c.speed_mps[1] - c.speed_mps[0])
        return {"model": model, "delay_spread_ns": ds.float(), "speed_mps": speed.float()}

    @torch.no_grad()
    def generate_block(self, *, seed: int, block_index: int, num: int) -> dict[str, object]:
        """Generate samples ``[block_index * block_size, ... + num)`` of the dataset of ``seed``.

        The block depends only on ``(config, seed, block_index, num)``.
        """
        c = self.config
        sionna_config.seed = block_seed(seed, block_index)
        cond = self.conditions(seed, block_index, num)
        a, k_ul, k = c.num_bs_ant, self._f_ul.numel(), self._f_target.numel()
        h_hist = torch.zeros(num, a, c.num_history, k_ul, dtype=torch.complex64)
        h_future = torch.zeros(num, a, c.num_horizon, k, dtype=torch.complex64)
        for index, name in enumerate(c.channel_models):  # one Sionna call per CDL model
            rows = (cond["model"] == index).nonzero().flatten()
            if rows.numel() == 0:
                continue
            hist, future = self._series(
                name, cond["delay_spread_ns"][rows], cond["speed_mps"][rows]
            )
            h_hist[rows], h_future[rows] = hist.cpu(), future.cpu()
        names = [c.channel_models[i] for i in cond["model"].tolist()]
        speed = cond["speed_mps"]
        return {
            "h_hist": h_hist,
            "h_future": h_future,
            "speed_mps": speed,
            "doppler_hz": (speed.double() * c.doppler_hz(1.0)).float(),
            "delay_spread_ns": cond["delay_spread_ns"],
            "channel_model_id": torch.tensor([CDL_MODELS.index(n) for n in names]),
            "channel_model": np.array([n.encode() for n in names], dtype="S8"),
        }

    # -------------------------------------------------------------- internals
    def _series(
        self, model: str, ds_ns: torch.Tensor, speed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """UL history [n, A, H, K_ul] and target-band future [n, A, F, K] of one CDL model."""
        c, dev = self.config, self.device
        velocity = _random_velocity(speed, horizontal=True).to(dev)
        cdl = CDL(model[-1].upper(), delay_spread=1.0, carrier_frequency=c.carrier_frequency_hz,
                  ut_array=self._ut_array, bs_array=self._bs_array, direction="uplink",
                  ut_velocity=velocity, device=dev)  # fmt: skip
        # Only the snapshot instants: num_snapshots samples at 1 / snapshot_interval.
        a, tau = cdl(speed.numel(), c.num_snapshots, 1.0 / c.snapshot_interval_s)
        tau = tau * (ds_ns.to(dev) * 1e-9)[:, None, None, None]
        energy = a.abs().square().sum(dim=5).mean(dim=(1, 2, 3, 4, 5))  # [n]
        a = a / energy.clamp_min(1e-30).sqrt()[:, None, None, None, None, None, None]
        # [n, 1, A, 1, 1, T, K] -> [n, A, T, K]
        h_ul = cir_to_ofdm_channel(self._f_ul, a[..., : c.num_history], tau)[:, 0, :, 0, 0]
        h_t = cir_to_ofdm_channel(self._f_target, a[..., c.num_history :], tau)[:, 0, :, 0, 0]
        return h_ul.to(torch.complex64), h_t.to(torch.complex64)


def _scalar(name: str, unit: str, description: str) -> FieldSpec:
    return FieldSpec(name=name, shape=(), dtype="float32", unit=unit, dims=(),
                     description=description)  # fmt: skip
