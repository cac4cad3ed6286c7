"""OFDM channel-estimation data on Sionna PHY: true channel, received pilots, LS estimates.

Sionna does the physics: the 3GPP TR 38.901 TDL/CDL/UMa/UMi models draw the channel
impulse responses, :func:`~sionna.phy.channel.cir_to_ofdm_channel` turns them into the
frequency response of the resource grid, and :class:`~sionna.phy.channel.ApplyOFDMChannel`
transmits the pilots and adds the noise. This module only chooses the per-sample
conditions (SNR, delay spread, Doppler) and gathers the pilot resource elements.

Definitions (also written into every dataset's attributes):

- The channel of each sample is normalized to unit average energy per resource element
  (averaged over receive antennas, OFDM symbols and subcarriers).
- Pilots are unit-modulus QPSK, so ``snr_db = -10 log10(no)`` is the per-resource-element
  SNR at each receive antenna, ``no`` the complex noise variance.
- ``doppler_hz`` is the maximum Doppler shift :math:`f_D = v f_c / c`; ``speed_mps`` the
  corresponding UT speed.
- ``delay_spread_ns`` is the RMS delay spread the TDL/CDL profile is scaled to; for
  UMa/UMi (whose delay spread comes from the drawn topology's large-scale parameters) it
  is the realized RMS delay spread of the sample's power delay profile.
"""

from __future__ import annotations

import numpy as np
import torch
from sionna.phy import config as sionna_config
from sionna.phy.channel import (
    ApplyOFDMChannel,
    cir_to_ofdm_channel,
    gen_single_sector_topology,
    subcarrier_frequencies,
)
from sionna.phy.channel.tr38901 import CDL, TDL, PanelArray, UMa, UMi

from wirelessml.datasets import FieldSpec
from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT, OFDMConfig

__all__ = ["OFDMSimulator", "block_seed", "rms_delay_spread"]

DEFINITIONS = {
    "snr_definition": "snr_db = -10*log10(no): per-RE SNR at each receive antenna, unit-energy "
    "pilots, channel normalized to unit mean energy per RE per sample",
    "channel_normalization": "per sample: mean |h|^2 over rx antennas, OFDM symbols and "
    "subcarriers equals 1 (sionna cir_to_ofdm_channel(normalize=True))",
    "ls_definition": "h_ls = y_pilots / x_pilots at the pilot resource elements",
    "doppler_definition": "maximum Doppler shift f_D = speed * carrier_frequency / c [Hz]",
    "delay_spread_definition": "RMS delay spread; TDL/CDL: the value the 38.901 profile is "
    "scaled to; UMa/UMi: realized RMS delay spread of the sample's power delay profile",
}


def block_seed(seed: int, block_index: int, stream: int = 0) -> int:
    """Seed of one block: a function of (seed, block, stream) only, so any block can be
    regenerated alone (this is what makes ``--resume`` exact)."""
    return int(np.random.SeedSequence([seed, block_index, stream]).generate_state(1)[0])


def rms_delay_spread(a: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """Power-weighted RMS delay spread of each sample's channel impulse response.

    Shapes:
        a: [batch, num_rx, num_rx_ant, num_tx, num_tx_ant, num_paths, num_time_steps], complex
        tau: [batch, num_rx, num_tx, num_paths], float (seconds)
        output: [batch], float (seconds)
    """
    power = a.abs().square().mean(dim=(1, 2, 3, 4, 6))  # [batch, num_paths]
    delays = tau.flatten(1, 2).mean(dim=1)  # [batch, num_paths]
    weights = power / power.sum(dim=1, keepdim=True)
    mean = (weights * delays).sum(dim=1)
    return ((weights * (delays - mean[:, None]).square()).sum(dim=1)).clamp_min(0).sqrt()


class OFDMSimulator:
    """Generates blocks of OFDM channel-estimation samples.

    Args:
        config: The data configuration.
        device: Torch device for Sionna's blocks (``None``: Sionna's default).

    Shapes (one block of ``n`` samples; ``P_t`` pilot symbols, ``P_f`` pilots per symbol):
        h: [n, num_rx_ant, num_ofdm_symbols, fft_size], complex64
        y_pilots, h_ls: [n, num_rx_ant, P_t, P_f], complex64
        x_pilots: [n, P_t, P_f], complex64
        snr_db, no, delay_spread_ns, doppler_hz, speed_mps: [n], float32
        channel_model: [n], bytes (``S8``)

    Examples:
        >>> sim = OFDMSimulator(OFDMConfig(block_size=4))
        >>> block = sim.generate_block(seed=0, block_index=0, num=4)
        >>> tuple(block["h"].shape), tuple(block["h_ls"].shape)
        ((4, 1, 14, 120), (4, 1, 2, 12))
    """

    def __init__(self, config: OFDMConfig, *, device: str | None = None) -> None:
        self.config = config
        self.device = device or sionna_config.device
        self._frequencies = subcarrier_frequencies(
            config.fft_size, config.subcarrier_spacing_hz, device=self.device
        )
        self._apply = ApplyOFDMChannel(device=self.device)
        self._channel = self._build_channel()
        self.x_pilots = self._pilot_sequence()
        self._pilot_symbols = torch.tensor(config.pilot_ofdm_symbols, device=self.device)
        self._pilot_subcarriers = torch.tensor(config.pilot_subcarriers, device=self.device)

    # -------------------------------------------------------------- schema
    def fields(self) -> list[FieldSpec]:
        """The per-sample fields this simulator writes, with units and dimension names."""
        c = self.config
        p = (len(c.pilot_ofdm_symbols), c.num_pilots_per_symbol)
        pdims = ("pilot_symbol", "pilot_subcarrier")
        cplx = "complex64"
        return [
            FieldSpec(name="h", shape=(c.num_rx_ant, c.num_ofdm_symbols, c.fft_size), dtype=cplx,
                      unit="1", dims=("rx_ant", "ofdm_symbol", "subcarrier"),
                      description="true channel frequency response (unit mean energy per RE)"),
            FieldSpec(name="y_pilots", shape=(c.num_rx_ant, *p), dtype=cplx, unit="1",
                      dims=("rx_ant", *pdims), description="received symbols at the pilot REs"),
            FieldSpec(name="x_pilots", shape=p, dtype=cplx, unit="1", dims=pdims,
                      description="transmitted unit-modulus QPSK pilots"),
            FieldSpec(name="h_ls", shape=(c.num_rx_ant, *p), dtype=cplx, unit="1",
                      dims=("rx_ant", *pdims), description="LS estimate y_pilots / x_pilots"),
            _scalar("snr_db", "dB", "per-RE SNR at each receive antenna, -10 log10(no)"),
            _scalar("no", "1", "complex noise variance per RE"),
            _scalar("delay_spread_ns", "ns", "RMS delay spread"),
            _scalar("doppler_hz", "Hz", "maximum Doppler shift"),
            _scalar("speed_mps", "m/s", "UT speed giving that Doppler at the carrier"),
            FieldSpec(name="channel_model", shape=(), dtype="S8", unit="", dims=(),
                      description="3GPP TR 38.901 channel model"),
        ]  # fmt: skip

    def attrs(self) -> dict[str, object]:
        """Root attributes: the pilot positions and the definitions of every quantity."""
        c = self.config
        return {
            "pilot_ofdm_symbols": np.asarray(c.pilot_ofdm_symbols, dtype=np.int64),
            "pilot_subcarriers": np.asarray(c.pilot_subcarriers, dtype=np.int64),
            "ofdm_symbol_duration_s": c.ofdm_symbol_duration_s,
            **DEFINITIONS,
        }

    # -------------------------------------------------------------- generation
    def conditions(self, seed: int, block_index: int, num: int) -> dict[str, torch.Tensor]:
        """Per-sample SNR [dB], delay spread [ns] and Doppler [Hz] of one block."""
        c = self.config
        if c.mode == "grid":
            combos = torch.tensor(c.grid_conditions, dtype=torch.float64)
            start = block_index * c.block_size
            rows = combos[torch.arange(start, start + num) % len(combos)]
            values = rows.T
        else:
            gen = torch.Generator().manual_seed(block_seed(seed, block_index, stream=1))
            u = torch.rand(3, num, generator=gen, dtype=torch.float64)
            ranges = torch.tensor([c.snr_db, c.delay_spread_ns, c.doppler_hz], dtype=torch.float64)
            values = ranges[:, :1] + u * (ranges[:, 1:] - ranges[:, :1])
        snr_db, ds_ns, fd_hz = (v.to(torch.float32) for v in values)
        return {"snr_db": snr_db, "delay_spread_ns": ds_ns, "doppler_hz": fd_hz}

    @torch.no_grad()
    def generate_block(self, *, seed: int, block_index: int, num: int) -> dict[str, torch.Tensor]:
        """Generate samples ``[block_index * block_size, ... + num)`` of the dataset of ``seed``.

        The block depends only on ``(config, seed, block_index, num)``.
        """
        c = self.config
        sionna_config.seed = block_seed(seed, block_index)
        cond = self.conditions(seed, block_index, num)
        speed = cond["doppler_hz"].double() * SPEED_OF_LIGHT / c.carrier_frequency_hz
        h, ds_ns = self._channel_response(num, cond["delay_spread_ns"], speed)
        no = torch.pow(10.0, -cond["snr_db"] / 10.0)
        # Only the pilot resource elements are kept, so only they are transmitted: Sionna's
        # ApplyOFDMChannel works on any (symbols, subcarriers) sub-grid.
        h_p = h[..., self._pilot_symbols, :][..., self._pilot_subcarriers]
        x_p = self.x_pilots.expand(num, -1, -1)
        y = self._apply(x_p[:, None, None], h_p, no.to(self.device)[:, None, None, None, None])
        y_p = y[:, 0]  # [n, num_rx_ant, P_t, P_f]
        return {
            "h": h[:, 0, :, 0, 0],
            "y_pilots": y_p,
            "x_pilots": x_p,
            "h_ls": y_p / x_p[:, None],
            "snr_db": cond["snr_db"],
            "no": no,
            "delay_spread_ns": ds_ns,
            "doppler_hz": cond["doppler_hz"],
            "speed_mps": speed.to(torch.float32),
            "channel_model": np.full(num, c.channel_model.encode(), dtype="S8"),
        }

    # -------------------------------------------------------------- internals
    def _pilot_sequence(self) -> torch.Tensor:
        """Unit-modulus QPSK pilots [P_t, P_f], fixed by ``pilot_seed``."""
        c = self.config
        gen = torch.Generator().manual_seed(c.pilot_seed)
        bits = torch.randint(0, 2, (2, len(c.pilot_ofdm_symbols), c.num_pilots_per_symbol),
                             generator=gen)  # fmt: skip
        re, im = (1.0 - 2.0 * bits.to(torch.float32)) / np.sqrt(2.0)
        return torch.complex(re, im).to(self.device)

    def _build_channel(self) -> TDL | CDL | UMa | UMi | None:
        c = self.config
        family, _, letter = c.channel_model.partition("-")
        if family == "tdl":
            # Unit delay spread: Sionna then returns the normalized delays of the 38.901
            # profile, which we scale per sample (the profile's defining property).
            return TDL(letter.upper(), delay_spread=1.0, carrier_frequency=c.carrier_frequency_hz,
                       num_rx_ant=c.num_rx_ant, device=self.device)  # fmt: skip
        if family == "cdl":
            return None  # built per block: its UT velocity is a constructor argument
        cls = UMa if family == "uma" else UMi
        return cls(carrier_frequency=c.carrier_frequency_hz, o2i_model="low",
                   ut_array=self._array(1), bs_array=self._array(c.num_rx_ant),
                   direction="uplink", enable_pathloss=False, enable_shadow_fading=False,
                   device=self.device)  # fmt: skip

    def _array(self, num_ant: int) -> PanelArray:
        """Half-wavelength ULA of omnidirectional, vertically polarized antennas."""
        return PanelArray(num_rows_per_panel=1, num_cols_per_panel=num_ant, polarization="single",
                          polarization_type="V", antenna_pattern="omni",
                          carrier_frequency=self.config.carrier_frequency_hz,
                          device=self.device)  # fmt: skip

    def _channel_response(
        self, num: int, ds_ns: torch.Tensor, speed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Channel [num, 1, num_rx_ant, 1, 1, num_ofdm_symbols, fft_size] and its delay spread [ns]."""
        c = self.config
        steps, fs = c.num_ofdm_symbols, 1.0 / c.ofdm_symbol_duration_s
        dev = self.device
        if c.channel_family == "tdl":
            _set_tdl_doppler(self._channel, speed.to(dev), c.carrier_frequency_hz)
            a, tau = self._channel(num, steps, fs)
            tau = tau * (ds_ns.to(dev) * 1e-9)[:, None, None, None]
        elif c.channel_family == "cdl":
            cdl = CDL(c.channel_model[-1].upper(), delay_spread=1.0,
                      carrier_frequency=c.carrier_frequency_hz, ut_array=self._array(1),
                      bs_array=self._array(c.num_rx_ant), direction="uplink",
                      ut_velocity=_random_velocity(speed, horizontal=False).to(dev),
                      device=dev)  # fmt: skip
            a, tau = cdl(num, steps, fs)
            tau = tau * (ds_ns.to(dev) * 1e-9)[:, None, None, None]
        else:
            topo = gen_single_sector_topology(num, 1, c.channel_model, device=dev)
            ut_loc, bs_loc, ut_orient, bs_orient, _, in_state = topo
            velocity = _random_velocity(speed, horizontal=True)[:, None, :].to(dev)
            self._channel.set_topology(ut_loc, bs_loc, ut_orient, bs_orient, velocity, in_state)
            a, tau = self._channel(steps, fs)
            ds_ns = (rms_delay_spread(a, tau) * 1e9).to(torch.float32).cpu()
        h = cir_to_ofdm_channel(self._frequencies, a, tau, normalize=True)
        return h, ds_ns


def _scalar(name: str, unit: str, description: str) -> FieldSpec:
    return FieldSpec(name=name, shape=(), dtype="float32", unit=unit, dims=(),
                     description=description)  # fmt: skip


def _random_velocity(speed: torch.Tensor, *, horizontal: bool) -> torch.Tensor:
    """Velocities [n, 3] of the given speeds [n] in uniformly random directions.

    Uses Sionna's torch generator, so it follows the block seed.
    """
    gen = sionna_config.torch_rng("cpu")
    n = speed.shape[0]
    phi = torch.rand(n, generator=gen, dtype=torch.float64) * 2 * torch.pi
    # Uniform on the sphere: cos(theta) uniform in [-1, 1].
    cos_t = torch.zeros(n, dtype=torch.float64) if horizontal else \
        torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1  # fmt: skip
    sin_t = (1 - cos_t.square()).sqrt()
    v = torch.stack([sin_t * phi.cos(), sin_t * phi.sin(), cos_t], dim=-1)
    return (v * speed.double()[:, None]).to(torch.float32)


def _set_tdl_doppler(tdl: TDL, speed: torch.Tensor, carrier_frequency_hz: float) -> None:
    """Give every sample of the next :class:`TDL` call its own maximum Doppler.

    Sionna's TDL draws each sample's Doppler uniformly from ``[min_speed, max_speed]``
    fixed at construction and does not return it. We set both bounds to the per-sample
    radian Doppler ``2 pi v f_c / c`` (shape ``[n, 1, 1, 1, 1, 1, 1, 1]``, which broadcasts
    in its sum-of-sinusoids) so that the Doppler of every sample is known exactly.
    ``tests/simulators/test_ofdm.py`` checks the result against Clarke's autocorrelation
    :math:`J_0(2 \\pi f_D \\Delta t)`, so a change inside Sionna cannot pass silently.
    """
    if not (hasattr(tdl, "_min_doppler") and hasattr(tdl, "_max_doppler")):
        raise RuntimeError(
            "this Sionna version's TDL has no _min_doppler/_max_doppler; "
            "wirelessml supports sionna 2.2 (pip install 'sionna>=2.2,<2.3')"
        )
    w = 2 * torch.pi * speed.to(torch.float32) * carrier_frequency_hz / SPEED_OF_LIGHT
    w = w.reshape(-1, 1, 1, 1, 1, 1, 1, 1)
    tdl._min_doppler = w
    tdl._max_doppler = w
