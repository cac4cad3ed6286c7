"""Multi-user MISO downlink channels on Sionna PHY, for precoding and power allocation.

Sionna draws the channels:

- ``rayleigh``: :class:`~sionna.phy.channel.GenerateFlatFadingChannel` with a
  :class:`~sionna.phy.channel.KroneckerModel` whose transmit correlation is
  :func:`~sionna.phy.channel.exp_corr_mat` (``R[m, n] = r^|m-n|``, the exponential model at
  the BS; the users are single-antenna and mutually independent, so the receive side of
  the Kronecker model is the identity).
- ``uma`` / ``umi``: 3GPP TR 38.901 :class:`~sionna.phy.channel.tr38901.UMa` /
  :class:`~sionna.phy.channel.tr38901.UMi` in the downlink, a half-wavelength ULA at the BS,
  a topology drawn per sample by :func:`~sionna.phy.channel.gen_single_sector_topology`,
  with path loss and shadow fading. The channel is **narrowband**: the impulse response
  at one time instant summed over its paths (:func:`~sionna.phy.channel.cir_to_ofdm_channel`
  at baseband frequency 0), i.e. one flat-fading subcarrier.

This module only draws the per-sample sizes and SNRs and pads.

Definitions (also written into every dataset's attributes):

- ``h[k, m]`` is the channel from BS antenna ``m`` to user ``k``: ``y_k = h_k x + n_k``
  with ``x = sum_j v_j s_j``, unit-power symbols ``s_j`` and ``n_k ~ CN(0, no)``.
- Variable sizes are stored padded to ``(max_users, max_antennas)``: the first ``K``
  rows and first ``M`` columns are the channel, the rest exact zeros, and
  ``user_mask``/``antenna_mask`` (float32 0/1) mark the real ones. Padding (rather than
  ragged storage) keeps every field a fixed-shape array, so the ordinary loader batches
  it and a model reads the sizes from the masks. The first ``M`` antennas of the
  ``max_antennas`` ULA are themselves an ``M``-antenna ULA with the same correlation, so
  truncation draws the ``M``-antenna channel exactly.
- Channel normalization: ``rayleigh`` has ``E|h[k, m]|^2 = 1``; for ``uma``/``umi`` each
  sample is scaled so that the mean of ``|h[k, m]|^2`` over its real users and antennas
  is 1 (the users' relative path loss and shadowing are kept).
- The transmit power constraint is ``sum_k ||v_k||^2 <= 1`` and ``snr_db = -10 log10(no)``:
  total transmit power over the noise variance at each user.
"""

from __future__ import annotations

import numpy as np
import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import (
    GenerateFlatFadingChannel,
    KroneckerModel,
    cir_to_ofdm_channel,
    exp_corr_mat,
    gen_single_sector_topology,
)
from sionna.phy.channel.tr38901 import PanelArray, UMa, UMi

from wirelessml.datasets import FieldSpec
from wirelessml.simulators.mimo_config import MIMOConfig
from wirelessml.simulators.ofdm import block_seed

__all__ = ["DEFINITIONS", "MIMOSimulator"]

DEFINITIONS = {
    "channel_definition": "h[k, m]: BS antenna m -> user k; y_k = h_k x + n_k, x = sum_j v_j s_j, "
    "unit-power s_j, n_k ~ CN(0, no); narrowband (flat) channel",
    "padding_definition": "h padded with exact zeros to (max_users, max_antennas); user_mask and "
    "antenna_mask (1 = real, 0 = padding) mark the first num_users rows and num_antennas columns",
    "channel_normalization": "rayleigh: E|h[k,m]|^2 = 1; uma/umi: per sample, mean |h[k,m]|^2 "
    "over real users and antennas = 1 (relative path loss and shadowing kept)",
    "snr_definition": "snr_db = -10*log10(no) with the total transmit power constraint "
    "sum_k ||v_k||^2 <= 1: transmit power over the noise variance at each user",
}


class MIMOSimulator:
    """Generates blocks of multi-user MISO downlink channels (padded, with masks).

    Args:
        config: The data configuration.
        device: Torch device for Sionna's blocks (``None``: Sionna's default).

    Shapes (one block of ``n`` samples; ``K = config.max_users``, ``M = config.max_antennas``):
        h: [n, K, M], complex64
        user_mask: [n, K], float32; antenna_mask: [n, M], float32
        num_users, num_antennas: [n], int64
        snr_db, no: [n], float32
        channel_model: [n], bytes (``S8``)

    Examples:
        >>> sim = MIMOSimulator(MIMOConfig(block_size=4))
        >>> block = sim.generate_block(seed=0, block_index=0, num=4)
        >>> tuple(block["h"].shape), tuple(block["user_mask"].shape)
        ((4, 4, 8), (4, 4))
    """

    def __init__(self, config: MIMOConfig, *, device: str | None = None) -> None:
        self.config = config
        self.device = device or sionna_config.device
        self._channel = self._build_channel()

    # -------------------------------------------------------------- schema
    def fields(self) -> list[FieldSpec]:
        """The per-sample fields this simulator writes, with units and dimension names."""
        k, m = self.config.max_users, self.config.max_antennas
        return [
            FieldSpec(name="h", shape=(k, m), dtype="complex64", unit="1", dims=("user", "bs_ant"),
                      description="downlink channel, padded with zeros (see channel_definition)"),
            FieldSpec(name="user_mask", shape=(k,), dtype="float32", unit="1", dims=("user",),
                      description="1 for a real user, 0 for padding"),
            FieldSpec(name="antenna_mask", shape=(m,), dtype="float32", unit="1",
                      dims=("bs_ant",), description="1 for a real BS antenna, 0 for padding"),
            FieldSpec(name="num_users", shape=(), dtype="int64", unit="1", dims=(),
                      description="users K of the sample"),
            FieldSpec(name="num_antennas", shape=(), dtype="int64", unit="1", dims=(),
                      description="BS antennas M of the sample"),
            FieldSpec(name="snr_db", shape=(), dtype="float32", unit="dB", dims=(),
                      description="-10 log10(no): transmit power (1) over noise variance"),
            FieldSpec(name="no", shape=(), dtype="float32", unit="1", dims=(),
                      description="complex noise variance at each user"),
            FieldSpec(name="channel_model", shape=(), dtype="S8", unit="", dims=(),
                      description="channel model"),
        ]  # fmt: skip

    def attrs(self) -> dict[str, object]:
        """Root attributes: the definitions of every quantity."""
        return dict(DEFINITIONS)

    # -------------------------------------------------------------- generation
    def conditions(self, seed: int, block_index: int, num: int) -> dict[str, torch.Tensor]:
        """Per-sample ``num_users``, ``num_antennas`` [int64] and ``snr_db`` [float32]."""
        c = self.config
        if c.mode == "grid":
            combos = torch.tensor(c.grid_conditions, dtype=torch.float64)
            start = block_index * c.block_size
            k, m, snr = combos[torch.arange(start, start + num) % len(combos)].T
            return {"num_users": k.long(), "num_antennas": m.long(), "snr_db": snr.float()}
        gen = torch.Generator().manual_seed(block_seed(seed, block_index, stream=1))
        u = torch.rand(3, num, generator=gen, dtype=torch.float64)
        m_lo, m_hi = c.num_antennas
        m = m_lo + (u[0] * (m_hi - m_lo + 1)).floor().long().clamp_max(m_hi - m_lo)
        k_lo = c.num_users[0]
        k_hi = torch.minimum(m, torch.tensor(c.num_users[1]))
        k = k_lo + (u[1] * (k_hi - k_lo + 1)).floor().long().clamp_max(k_hi - k_lo)
        snr = c.snr_db[0] + u[2] * (c.snr_db[1] - c.snr_db[0])
        return {"num_users": k, "num_antennas": m, "snr_db": snr.float()}

    @torch.no_grad()
    def generate_block(self, *, seed: int, block_index: int, num: int) -> dict[str, object]:
        """Generate samples ``[block_index * block_size, ... + num)`` of the dataset of ``seed``.

        The block depends only on ``(config, seed, block_index, num)``.
        """
        c = self.config
        sionna_config.seed = block_seed(seed, block_index)
        cond = self.conditions(seed, block_index, num)
        user_mask = (torch.arange(c.max_users) < cond["num_users"][:, None]).float()
        ant_mask = (torch.arange(c.max_antennas) < cond["num_antennas"][:, None]).float()
        h = self._draw(num).cpu().to(torch.complex64)
        h = h * (user_mask[:, :, None] * ant_mask[:, None, :])
        if c.channel_model != "rayleigh":
            count = cond["num_users"] * cond["num_antennas"]
            gain = h.abs().square().sum(dim=(1, 2)) / count
            h = h / gain.clamp_min(1e-30).sqrt()[:, None, None]
        return {
            "h": h,
            "user_mask": user_mask,
            "antenna_mask": ant_mask,
            "num_users": cond["num_users"],
            "num_antennas": cond["num_antennas"],
            "snr_db": cond["snr_db"],
            "no": torch.pow(10.0, -cond["snr_db"] / 10.0),
            "channel_model": np.full(num, c.channel_model.encode(), dtype="S8"),
        }

    # -------------------------------------------------------------- internals
    def _build_channel(self) -> GenerateFlatFadingChannel | UMa | UMi:
        c, dev = self.config, self.device
        if c.channel_model == "rayleigh":
            r_tx = exp_corr_mat(torch.tensor(float(c.correlation)), c.max_antennas, device=dev)
            return GenerateFlatFadingChannel(
                num_tx_ant=c.max_antennas, num_rx_ant=c.max_users,
                spatial_corr=KroneckerModel(r_tx=r_tx, device=dev), device=dev,
            )  # fmt: skip
        cls = UMa if c.channel_model == "uma" else UMi
        return cls(carrier_frequency=c.carrier_frequency_hz, o2i_model="low",
                   ut_array=self._array(1), bs_array=self._array(c.max_antennas),
                   direction="downlink", enable_pathloss=True, enable_shadow_fading=True,
                   device=dev)  # fmt: skip

    def _array(self, num_ant: int) -> PanelArray:
        """Half-wavelength ULA of omnidirectional, vertically polarized antennas."""
        return PanelArray(num_rows_per_panel=1, num_cols_per_panel=num_ant, polarization="single",
                          polarization_type="V", antenna_pattern="omni",
                          carrier_frequency=self.config.carrier_frequency_hz,
                          device=self.device)  # fmt: skip

    def _draw(self, num: int) -> torch.Tensor:
        """Unpadded channels [num, max_users, max_antennas] (complex)."""
        c = self.config
        if c.channel_model == "rayleigh":
            return self._channel(num)
        topo = gen_single_sector_topology(num, c.max_users, c.channel_model, device=self.device)
        self._channel.reset_topology()  # a shorter last block has another batch size
        self._channel.set_topology(*topo)
        a, tau = self._channel(1, 1.0)  # one time step: a narrowband snapshot
        zero = torch.zeros(1, device=self.device)
        # [num, num_rx=K, rx_ant=1, num_tx=1, tx_ant=M, time=1, freq=1]
        h = cir_to_ofdm_channel(zero, a, tau, normalize=False)
        return h[:, :, 0, 0, :, 0, 0]
