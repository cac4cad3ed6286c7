"""The reference link: 5G LDPC, QAM, one OFDM slot per codeword, TDL/CDL, LMMSE equalization.

Transmitter: ``BinarySource`` → ``LDPC5GEncoder(k, n)`` → ``Mapper("qam")`` →
``ResourceGridMapper``; one codeword fills the data REs of one slot (``n = num_data_symbols
x bits per symbol``, ``k = round(rate * n)``). Channel: a 3GPP TR 38.901 TDL or CDL model
at a fixed RMS delay spread and maximum Doppler (UT speed ``doppler * c / f_c``) through
Sionna's frequency-domain ``OFDMChannel`` with ``normalize_channel=True`` (unit mean energy
per RE per slot, as in the training data) and AWGN of variance ``no``. Receiver: a channel
estimator ``(y, no) -> (h_hat, err_var)``, ``LMMSEEqualizer``, ``Demapper("app")``,
``LDPC5GDecoder`` (Sionna's defaults: boxplus-phi, 20 iterations, hard output).

:math:`E_b/N_0` is converted with Sionna's ``ebnodb2no(ebno_db, bits_per_symbol, rate,
resource_grid)``: :math:`E_b` is the energy per information bit, counting the energy spent
on pilots and on the cyclic prefix (``no = 1 / (Eb/N0 * rate * bits_per_symbol * data REs /
(all REs * (1 + cp / fft_size)))`` up to Sionna's exact bookkeeping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from wirelessml.config import check_field
from wirelessml.errors import ConfigError
from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT, OFDMConfig

__all__ = [
    "CHANNELS",
    "MODULATIONS",
    "GenieLMMSEEstimator",
    "LinkConfig",
    "PerfectCSI",
    "ReferenceLink",
]

MODULATIONS: dict[str, int] = {"qpsk": 2, "16qam": 4, "64qam": 6}
"""Modulation name → coded bits per QAM symbol."""

CHANNELS: tuple[str, ...] = (*(f"tdl-{m}" for m in "abcde"), *(f"cdl-{m}" for m in "abcde"))
"""3GPP TR 38.901 link-level models the reference link can use."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True, kw_only=True)
class LinkConfig:
    """What the reference link transmits over which channel, and how long it simulates.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> LinkConfig(modulation="qpsk", ebno_db=(0.0, 2.0)).bits_per_symbol
        2
    """

    version: int = 1
    modulation: Literal["qpsk", "16qam", "64qam"] = field(
        default="16qam", metadata=_help("QAM order")
    )
    rate: float = field(default=0.5, metadata=_help("LDPC code rate k/n, in (0, 1)"))
    channel: str = field(default="tdl-a", metadata=_help(f"one of {', '.join(CHANNELS)}"))
    delay_spread_ns: float = field(default=200.0, metadata=_help("RMS delay spread [ns]"))
    doppler_hz: float = field(default=500.0, metadata=_help("maximum Doppler shift [Hz]"))
    ebno_db: tuple[float, ...] = field(
        default=(0.0, 5.0, 10.0), metadata=_help("Eb/N0 points [dB], increasing")
    )
    target_block_errors: int = field(default=200, metadata=_help("block errors per point"))
    max_blocks: int = field(default=20_000, metadata=_help("blocks (codewords) per point"))
    batch_size: int = field(default=100, metadata=_help("codewords per Sionna call"))
    seed: int = field(default=0, metadata=_help("seed of bits, channels and noise"))

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        check_field(self.modulation in MODULATIONS, self, "modulation", self.modulation,
                    f"one of {', '.join(MODULATIONS)}")  # fmt: skip
        check_field(self.channel in CHANNELS, self, "channel", self.channel,
                    f"one of {', '.join(CHANNELS)}")  # fmt: skip
        check_field(isinstance(self.rate, int | float) and 0.0 < self.rate < 1.0, self, "rate",
                    self.rate, "a code rate in (0, 1), e.g. 0.5")  # fmt: skip
        check_field(_finite(self.delay_spread_ns) and 0.0 < self.delay_spread_ns <= 10_000.0,
                    self, "delay_spread_ns", self.delay_spread_ns, "a delay spread in (0, 10000] ns")  # fmt: skip
        check_field(_finite(self.doppler_hz) and 0.0 <= self.doppler_hz <= 100_000.0, self,
                    "doppler_hz", self.doppler_hz, "a Doppler in [0, 100000] Hz")  # fmt: skip
        e = self.ebno_db
        check_field(isinstance(e, tuple) and len(e) >= 1 and all(_finite(v) for v in e)
                    and all(a < b for a, b in zip(e[:-1], e[1:], strict=False)),
                    self, "ebno_db", e, "one or more finite, increasing values [dB]")  # fmt: skip
        for name in ("target_block_errors", "max_blocks", "batch_size"):
            v = getattr(self, name)
            check_field(isinstance(v, int) and not isinstance(v, bool) and v >= 1, self, name, v,
                        "an integer >= 1")  # fmt: skip
        check_field(isinstance(self.seed, int) and 0 <= self.seed < 2**63, self, "seed",
                    self.seed, "an integer in [0, 2**63)")  # fmt: skip

    @property
    def bits_per_symbol(self) -> int:
        return MODULATIONS[self.modulation]


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


class PerfectCSI:
    """The true channel as the estimate, with zero error variance (the genie receiver)."""

    name = "perfect CSI"

    def __call__(self, y: Tensor, no: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        return h, torch.zeros((), dtype=torch.float32, device=h.device)


class GenieLMMSEEstimator:
    """Sionna's LMMSE estimator (order ``"f-t"``) with the link's true TDL statistics.

    The time and frequency covariances are those of the link's fixed delay spread and
    Doppler (``tdl_time_cov_mat``, ``tdl_freq_cov_mat``) and ``no`` is the point's. The
    estimator is linear in the pilots for fixed ``no``, so its matrix and its ``err_var``
    (Sionna's own) are extracted once per ``no`` and cached
    (:class:`~wirelessml.tasks.ce_baselines.SionnaLinearEstimator`): no filter is rebuilt
    per batch.

    Shapes:
        y: [batch, 1, num_rx_ant, num_ofdm_symbols, fft_size], complex64
        h_hat, err_var: [batch, 1, num_rx_ant, 1, 1, num_ofdm_symbols, fft_size]
    """

    name = "LMMSE genie"

    def __init__(self, grid: OFDMConfig, link: LinkConfig, rg: Any, device: str) -> None:
        from wirelessml.tasks.ce_baselines import SionnaLinearEstimator, _lmmse_maker

        model_cfg = OFDMConfig(**{**_fields(grid), "channel_model": link.channel})
        design = (float(link.delay_spread_ns), float(link.doppler_hz))
        self._make = _lmmse_maker(model_cfg, rg, device)
        self._design = design
        self._linear = SionnaLinearEstimator(
            name="lmmse-genie", resource_grid=rg, make_estimator=self._make,
            design_keys=lambda batch: [design] * batch["y_pilots"].shape[0], uses_no=True,
            cache="always", device=device,
        )  # fmt: skip
        mask = rg.pilot_pattern.mask[0, 0].to(torch.bool).flatten()
        self._pilot_re = torch.nonzero(mask).flatten().to(device)
        self._shape = (rg.num_ofdm_symbols, rg.fft_size)
        self._err_var: dict[float, Tensor] = {}

    def __call__(self, y: Tensor, no: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Estimate from ``y`` at one scalar ``no`` (the link's; ``h`` is not used)."""
        b, _, a = y.shape[:3]
        no_value = float(no.reshape(-1)[0])
        y_p = y[:, 0].flatten(2)[..., self._pilot_re]  # [b, a, P]
        h_hat = y_p @ self._linear.matrix(self._design, no_value).T  # [b, a, T*F]
        return h_hat.reshape(b, 1, a, 1, 1, *self._shape), self._error_variance(no_value)

    def _error_variance(self, no: float) -> Tensor:
        """Sionna's LMMSE error variance at ``no`` [T, F] (it does not depend on ``y``)."""
        if no not in self._err_var:
            rg_shape = (1, 1, 1, *self._shape)
            y0 = torch.zeros(rg_shape, dtype=torch.complex64, device=self._pilot_re.device)
            _, err_var = self._make(self._design)(y0, torch.tensor(no, device=y0.device))
            self._err_var[no] = err_var[0, 0, 0, 0, 0].to(torch.float32)
        return self._err_var[no]


def _fields(config: OFDMConfig) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(config, f.name) for f in fields(config)}


class ReferenceLink:
    """The transmitter, channel and receiver chain of the reference link (Sionna blocks).

    Args:
        link: What to send over which channel.
        grid: The OFDM grid (an estimator's training config): FFT size, symbols, spacing,
            CP, pilots, carrier frequency and receive antennas.
        device: Torch device of every block.

    Shapes (``B`` codewords, one per slot):
        bits, bits_hat: [B, 1, 1, k], float32
        y: [B, 1, num_rx_ant, num_ofdm_symbols, fft_size], complex64
        h: [B, 1, num_rx_ant, 1, 1, num_ofdm_symbols, fft_size], complex64

    Examples:
        >>> link = ReferenceLink(LinkConfig(modulation="qpsk"), OFDMConfig())
        >>> link.n, link.k
        (3312, 1656)
    """

    def __init__(self, link: LinkConfig, grid: OFDMConfig, device: str | None = None) -> None:
        from sionna.phy import config as sionna_config
        from sionna.phy.channel import OFDMChannel
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import BinarySource, Demapper, Mapper
        from sionna.phy.mimo import StreamManagement
        from sionna.phy.ofdm import LMMSEEqualizer, ResourceGridMapper

        from wirelessml.linksim.grid import resource_grid

        self.link, self.grid = link, grid
        self.device = device = device or sionna_config.device
        self.rg = resource_grid(grid, device=device)
        bps = link.bits_per_symbol
        self.n = int(self.rg.num_data_symbols) * bps
        self.k = int(round(link.rate * self.n))
        self.source = BinarySource(device=device)
        try:
            self.encoder = LDPC5GEncoder(self.k, self.n, device=device)
        except ValueError as exc:
            raise ConfigError(f"LinkConfig.rate={link.rate!r} gives k={self.k}, n={self.n} on this "
                              f"grid, which 5G LDPC does not support ({exc}); use a rate in "
                              "[0.2, 0.95]") from None  # fmt: skip
        self.decoder = LDPC5GDecoder(self.encoder, hard_out=True, device=device)
        self.mapper = Mapper("qam", bps, device=device)
        self.demapper = Demapper("app", "qam", bps, device=device)
        self.rg_mapper = ResourceGridMapper(self.rg, device=device)
        self.channel = OFDMChannel(self._channel_model(), self.rg, add_awgn=True,
                                   normalize_channel=True, return_channel=True,
                                   device=device)  # fmt: skip
        stream_management = StreamManagement(np.ones([1, 1], dtype=int), 1)
        self.equalizer = LMMSEEqualizer(self.rg, stream_management, device=device)

    def _channel_model(self) -> Any:
        from sionna.phy.channel.tr38901 import CDL, TDL, PanelArray

        c, g, dev = self.link, self.grid, self.device
        speed = c.doppler_hz * SPEED_OF_LIGHT / g.carrier_frequency_hz
        family, letter = c.channel.split("-")
        if family == "tdl":
            return TDL(letter.upper(), c.delay_spread_ns * 1e-9, g.carrier_frequency_hz,
                       min_speed=speed, max_speed=speed, num_rx_ant=g.num_rx_ant,
                       device=dev)  # fmt: skip

        def array(num: int) -> Any:
            return PanelArray(num_rows_per_panel=1, num_cols_per_panel=num, polarization="single",
                              polarization_type="V", antenna_pattern="omni",
                              carrier_frequency=g.carrier_frequency_hz, device=dev)  # fmt: skip

        return CDL(letter.upper(), c.delay_spread_ns * 1e-9, g.carrier_frequency_hz,
                   ut_array=array(1), bs_array=array(g.num_rx_ant), direction="uplink",
                   min_speed=speed, max_speed=speed, device=dev)  # fmt: skip

    def no(self, ebno_db: float) -> Tensor:
        """Noise variance of an Eb/N0 [dB] (Sionna's ``ebnodb2no`` with the resource grid)."""
        from sionna.phy.utils import ebnodb2no

        return ebnodb2no(ebno_db, self.link.bits_per_symbol, self.link.rate, self.rg,
                         device=self.device)  # fmt: skip

    def transmit(self, batch_size: int, no: Tensor) -> dict[str, Tensor]:
        """Draw bits, encode, map, and send one slot per codeword: ``bits``, ``y``, ``h``."""
        bits = self.source([batch_size, 1, 1, self.k])
        x = self.rg_mapper(self.mapper(self.encoder(bits)))
        y, h = self.channel(x, no)
        return {"bits": bits, "y": y, "h": h}

    def llr(self, y: Tensor, h_hat: Tensor, err_var: Tensor, no: Tensor) -> Tensor:
        """Equalize and demap: the coded bits' LLRs ``[B, 1, 1, n]``."""
        x_hat, no_eff = self.equalizer(y, h_hat, err_var, no)
        return self.demapper(x_hat, no_eff)

    def decode(self, llr: Tensor) -> Tensor:
        """LDPC decoding of ``[B, 1, 1, n]`` LLRs: the information bits ``[B, 1, 1, k]``.

        Codewords are decoded independently, so the LLRs of several receivers may be
        concatenated along the batch and decoded in one call (fewer, larger calls).
        """
        return self.decoder(llr)

    def receive(self, y: Tensor, h_hat: Tensor, err_var: Tensor, no: Tensor) -> Tensor:
        """Equalize, demap and decode: the decoded information bits ``[B, 1, 1, k]``."""
        return self.decode(self.llr(y, h_hat, err_var, no))
