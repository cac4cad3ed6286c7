"""Cell-free downlink channels on Sionna PHY: L multi-antenna APs, K users, large-scale fading.

Sionna draws the channels: one 3GPP TR 38.901 :class:`~sionna.phy.channel.tr38901.UMi` (or
``UMa``) system-level model with every AP as a base station (downlink, half-wavelength ULA
of N antennas per AP, single-antenna users), path loss and shadow fading on, for a
topology this module drops: APs and users uniform in a square, all outdoor, static. The
channel is **narrowband** (paths summed at baseband frequency 0, one time instant).

Definitions (also written into every dataset's attributes):

- ``h[k, l, n]``: channel from antenna ``n`` of AP ``l`` to user ``k``, including path
  loss and shadowing (not normalized).
- ``beta[k, l]``: large-scale gain (linear) of that link, ``10^(-PL_dB/10) * SF`` from the
  LSPs Sionna drew for the topology (``E|h[k, l, n]|^2 = beta[k, l]``).
- Padding: ``h``/``beta`` padded with zeros to the largest K, L, N; ``user_mask``,
  ``ap_mask``, ``antenna_mask`` mark the real ones (same reasons as the ``mimo`` family).
- Power: each AP transmits at most 1 (its maximum power ``ap_power_dbm``); ``no`` is the
  noise power (``-174 dBm/Hz + 10 log10(B) + NF``) relative to it, the same for every sample.
"""

from __future__ import annotations

import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import cir_to_ofdm_channel
from sionna.phy.channel.tr38901 import PanelArray, UMa, UMi

from wirelessml.datasets import FieldSpec
from wirelessml.simulators.cellfree_config import CellFreeConfig
from wirelessml.simulators.ofdm import block_seed

__all__ = ["CellFreeSimulator"]

DEFINITIONS = {
    "channel_definition": "h[k, l, n]: antenna n of AP l -> user k, with path loss and shadow "
    "fading, narrowband; padded with zeros",
    "beta_definition": "beta[k, l] = 10^(-PL_dB/10) * SF, the large-scale gain Sionna drew",
    "power_definition": "each AP transmits at most 1 (ap_power_dbm); no = noise power / AP power",
}


class CellFreeSimulator:
    """Generates blocks of cell-free downlink channels (padded, with masks).

    Shapes (one block of ``n`` samples; ``K, L, N`` the config's largest sizes):
        h: [n, K, L, N], complex64; beta: [n, K, L], float32
        user_mask: [n, K]; ap_mask: [n, L]; antenna_mask: [n, N], float32
        num_users, num_aps, num_ap_antennas: [n], int64; no: [n], float32

    Examples:
        >>> cfg = CellFreeConfig(num_aps=(2, 3), num_users=(1, 2), block_size=2)
        >>> block = CellFreeSimulator(cfg).generate_block(seed=0, block_index=0, num=2)
        >>> tuple(block["h"].shape), tuple(block["beta"].shape)
        ((2, 2, 3, 4), (2, 2, 3))
    """

    def __init__(self, config: CellFreeConfig, *, device: str | None = None) -> None:
        self.config = config
        self.device = device or sionna_config.device
        c = config
        cls = UMi if c.scenario == "umi" else UMa
        self._channel = cls(carrier_frequency=c.carrier_frequency_hz, o2i_model="low",
                            ut_array=self._array(1), bs_array=self._array(c.max_ap_antennas),
                            direction="downlink", enable_pathloss=True,
                            enable_shadow_fading=True, device=self.device)  # fmt: skip

    def _array(self, num_ant: int) -> PanelArray:
        return PanelArray(num_rows_per_panel=1, num_cols_per_panel=num_ant, polarization="single",
                          polarization_type="V", antenna_pattern="omni",
                          carrier_frequency=self.config.carrier_frequency_hz,
                          device=self.device)  # fmt: skip

    def fields(self) -> list[FieldSpec]:
        """The per-sample fields this simulator writes."""
        c = self.config
        k, aps, n = c.max_users, c.max_aps, c.max_ap_antennas
        f32 = "float32"
        return [
            FieldSpec(name="h", shape=(k, aps, n), dtype="complex64", unit="1",
                      dims=("user", "ap", "ap_ant"), description="channel (see channel_definition)"),
            FieldSpec(name="beta", shape=(k, aps), dtype=f32, unit="1", dims=("user", "ap"),
                      description="large-scale gain (path loss x shadowing), linear"),
            FieldSpec(name="user_mask", shape=(k,), dtype=f32, unit="1", dims=("user",),
                      description="1 for a real user"),
            FieldSpec(name="ap_mask", shape=(aps,), dtype=f32, unit="1", dims=("ap",),
                      description="1 for a real AP"),
            FieldSpec(name="antenna_mask", shape=(n,), dtype=f32, unit="1", dims=("ap_ant",),
                      description="1 for a real AP antenna"),
            FieldSpec(name="num_users", shape=(), dtype="int64", unit="1", dims=(),
                      description="users K"),
            FieldSpec(name="num_aps", shape=(), dtype="int64", unit="1", dims=(),
                      description="APs L"),
            FieldSpec(name="num_ap_antennas", shape=(), dtype="int64", unit="1", dims=(),
                      description="antennas N per AP"),
            FieldSpec(name="no", shape=(), dtype=f32, unit="1", dims=(),
                      description="noise power relative to one AP's maximum power"),
        ]  # fmt: skip

    def attrs(self) -> dict[str, object]:
        return {**DEFINITIONS, "noise_dbm": self.config.noise_dbm}

    def _sizes(self, seed: int, block_index: int, num: int) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(block_seed(seed, block_index, stream=1))
        out = []
        for lo, hi in (self.config.num_users, self.config.num_aps, self.config.num_ap_antennas):
            out.append(torch.randint(lo, hi + 1, (num,), generator=gen))
        return out

    @torch.no_grad()
    def generate_block(self, *, seed: int, block_index: int, num: int) -> dict[str, object]:
        """Samples ``[block_index * block_size, ... + num)`` of the dataset of ``seed``."""
        c, dev = self.config, self.device
        sionna_config.seed = block_seed(seed, block_index)
        k, aps, n = self._sizes(seed, block_index, num)
        gen = torch.Generator().manual_seed(block_seed(seed, block_index, stream=2))
        ut = torch.rand(num, c.max_users, 3, generator=gen) * c.area_m
        ap = torch.rand(num, c.max_aps, 3, generator=gen) * c.area_m
        ut[..., 2], ap[..., 2] = c.ut_height_m, c.ap_height_m
        zeros = lambda m: torch.zeros(num, m, 3, device=dev)  # noqa: E731
        # Sionna freezes its topology buffers at the first call's batch size and refuses
        # another (a shorter last block) until reset; set_topology defines them anew anyway.
        self._channel.reset_topology()
        self._channel.set_topology(ut.to(dev), ap.to(dev), zeros(c.max_users), zeros(c.max_aps),
                                   zeros(c.max_users),
                                   torch.zeros(num, c.max_users, dtype=torch.bool, device=dev))  # fmt: skip
        a, tau = self._channel(1, 1.0)
        h = cir_to_ofdm_channel(torch.zeros(1, device=dev), a, tau, normalize=False)
        h = h[:, :, 0, :, :, 0, 0].cpu().to(torch.complex64)  # [num, K, L, N]
        # Sionna's private LSPs of this topology (as ofdm.py uses TDL's Doppler bounds);
        # tests/precoding/test_cellfree.py checks E|h|^2 = beta against the channel.
        lsp = self._channel._lsp
        beta = (10.0 ** (-lsp.pathloss / 10.0) * lsp.sf).cpu().float().transpose(1, 2)
        um = (torch.arange(c.max_users) < k[:, None]).float()
        apm = (torch.arange(c.max_aps) < aps[:, None]).float()
        am = (torch.arange(c.max_ap_antennas) < n[:, None]).float()
        link = um[:, :, None] * apm[:, None, :]
        return {
            "h": h * (link[..., None] * am[:, None, None, :]),
            "beta": beta * link,
            "user_mask": um, "ap_mask": apm, "antenna_mask": am,
            "num_users": k, "num_aps": aps, "num_ap_antennas": n,
            "no": torch.full((num,), c.no, dtype=torch.float32),
        }  # fmt: skip

    def conditions(self, seed: int, block_index: int, num: int) -> dict[str, torch.Tensor]:
        k, aps, n = self._sizes(seed, block_index, num)
        return {"num_users": k, "num_aps": aps, "num_ap_antennas": n}
