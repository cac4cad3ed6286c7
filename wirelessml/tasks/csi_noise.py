"""Noise applied to clean CSI histories when they are loaded (CSI-4CAST's robustness tests).

The ``csi-series`` files hold clean channels; every impairment is drawn here, so one file
serves every robustness test. Four kinds, after CSI-4CAST (arXiv 2510.12996, its
``src/noise``), each calibrated to a target SNR in closed form rather than by the
reference's empirical table:

- ``awgn``: complex white Gaussian noise of power :math:`P_n \\cdot 10^{-\\mathrm{SNR}/10}`,
  :math:`P_n` the mean :math:`|h|^2` of sample ``n`` (the reference uses one power for
  the whole tensor).
- ``phase``: every entry rotated by an i.i.d. :math:`\\mathcal N(0, \\sigma^2)` phase. The
  error power is :math:`|h|^2 \\cdot 2(1 - e^{-\\sigma^2/2})`, so
  :math:`\\sigma = \\sqrt{-2\\ln(1 - 10^{-\\mathrm{SNR}/10}/2)}`: 0.320, 0.179, 0.100, 0.056 rad
  at 10, 15, 20, 25 dB, the reference's calibrated 0.32, 0.18, 0.10, 0.056.
- ``burst``: one burst per sample of ``burst_length`` (10) snapshots at a uniformly
  random start (cut at the end of the window), complex Gaussian noise under a bell
  envelope :math:`e^{-x^2/2}`, :math:`x \\in [-1, 1]` across the burst, scaled so that the
  noise power averaged over the sample's whole window is :math:`P_n 10^{-\\mathrm{SNR}/10}`.
- ``drop``: packet drop, each snapshot of each sample lost (set to zero on every port and
  subcarrier) with probability ``p``; the level is ``p``, not an SNR.

Every function takes an explicit ``torch.Generator`` and the tensor layout
``[batch, num_bs_ant, num_snapshots, num_subcarriers]`` (complex64).
"""

from __future__ import annotations

import math

import torch

from wirelessml.errors import ConfigError

__all__ = [
    "BURST_LENGTH",
    "NOISE_TYPES",
    "REFERENCE_LEVELS",
    "apply_noise",
    "awgn",
    "burst_noise",
    "check_noise",
    "packet_drop",
    "phase_noise",
    "phase_sigma",
]

NOISE_TYPES: tuple[str, ...] = ("none", "awgn", "phase", "burst", "drop")
"""Noise kinds :func:`apply_noise` knows."""

BURST_LENGTH = 10
"""Snapshots per burst (the reference's fixed burst length)."""

REFERENCE_LEVELS: dict[str, tuple[float, ...]] = {
    "awgn": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "phase": (10.0, 15.0, 20.0, 25.0),
    "burst": (10.0, 15.0, 20.0, 25.0),
    "drop": (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10),
}
"""The robustness levels of the reference: SNR [dB] (awgn, phase, burst), probability (drop)."""


def check_noise(kind: str, level: float) -> None:
    """Refuse an unknown noise kind or an impossible level, in one line."""
    if kind not in NOISE_TYPES:
        raise ConfigError(f"unknown noise type {kind!r}; choose one of: {', '.join(NOISE_TYPES)}")
    if kind == "drop" and not 0.0 <= level <= 1.0:
        raise ConfigError(f"packet drop probability {level!r} is not allowed: expected 0 <= p <= 1")
    if kind in ("awgn", "phase", "burst") and not math.isfinite(level):
        raise ConfigError(f"{kind} SNR {level!r} dB is not allowed: expected a finite number")
    if kind == "phase" and level <= -10 * math.log10(2.0):
        raise ConfigError(f"phase-noise SNR {level} dB is not reachable: expected > -3.01 dB")


def _power(h: torch.Tensor) -> torch.Tensor:
    """Mean |h|^2 per sample, shaped to broadcast: [batch, 1, 1, 1]."""
    return h.abs().square().mean(dim=(1, 2, 3), keepdim=True)


def _complex_normal(shape: torch.Size, generator: torch.Generator | None,
                    device: torch.device) -> torch.Tensor:  # fmt: skip
    """Unit-power circular complex Gaussian samples (complex64)."""
    z = torch.randn((*shape, 2), generator=generator, device=device) / math.sqrt(2.0)
    return torch.view_as_complex(z)


def awgn(h: torch.Tensor, snr_db: float | torch.Tensor, *,
         generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """``h`` plus complex white Gaussian noise at ``snr_db`` relative to each sample's power.

    Args:
        h: Clean CSI.
        snr_db: Target SNR [dB], a number or one per sample (``[batch]``).
        generator: Torch generator of the noise.

    Shapes:
        h, output: [batch, num_bs_ant, num_snapshots, num_subcarriers], complex64

    Examples:
        >>> h = torch.ones(2, 4, 16, 8, dtype=torch.complex64)
        >>> awgn(h, 10.0, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 4, 16, 8])
    """
    snr = torch.as_tensor(snr_db, dtype=torch.float32, device=h.device).reshape(-1, 1, 1, 1)
    scale = (_power(h) * torch.pow(10.0, -snr / 10.0)).sqrt()
    return h + scale * _complex_normal(h.shape, generator, h.device)


def phase_sigma(snr_db: float) -> float:
    """Phase-noise standard deviation [rad] whose error power is ``10^(-snr_db/10)`` of the signal.

    Examples:
        >>> round(phase_sigma(10.0), 3), round(phase_sigma(25.0), 3)
        (0.32, 0.056)
    """
    check_noise("phase", snr_db)
    return math.sqrt(-2.0 * math.log(1.0 - 10.0 ** (-snr_db / 10.0) / 2.0))


def phase_noise(h: torch.Tensor, snr_db: float, *,
                generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """``h`` with every entry rotated by an i.i.d. Gaussian phase calibrated to ``snr_db``.

    Shapes:
        h, output: [batch, num_bs_ant, num_snapshots, num_subcarriers], complex64
    """
    sigma = phase_sigma(snr_db)
    phi = torch.randn(h.shape, generator=generator, device=h.device) * sigma
    return h * torch.polar(torch.ones_like(phi), phi)


def burst_noise(h: torch.Tensor, snr_db: float, *, generator: torch.Generator | None = None,
                burst_length: int = BURST_LENGTH) -> torch.Tensor:  # fmt: skip
    """``h`` plus one bell-shaped burst of Gaussian noise per sample, calibrated to ``snr_db``.

    The burst starts at a uniformly random snapshot and is cut at the end of the window;
    its amplitude is set per sample from the part that fits, so the noise power averaged
    over the whole window is :math:`P_n 10^{-\\mathrm{SNR}/10}`.

    Shapes:
        h, output: [batch, num_bs_ant, num_snapshots, num_subcarriers], complex64
    """
    batch, _, steps, _ = h.shape
    start = torch.randint(0, steps, (batch,), generator=generator, device=h.device)
    t = torch.arange(steps, device=h.device)
    offset = t[None, :] - start[:, None]  # [batch, T]
    length = (steps - start).clamp_max(burst_length)  # the part of the burst that fits
    inside = (offset >= 0) & (offset < length[:, None])
    # Bell across the (cut) burst: x from -1 to 1 over its length.
    x = -1.0 + 2.0 * offset / (length[:, None] - 1).clamp_min(1)
    bell = torch.where(inside, torch.exp(-0.5 * x.square()), torch.zeros_like(x))
    bell = torch.where(inside & (length[:, None] == 1), torch.ones_like(x), bell)
    gain = steps / bell.square().sum(dim=1)  # mean of the envelope power over the window = 1
    target = _power(h)[:, 0, 0, 0] * 10.0 ** (-snr_db / 10.0)
    amplitude = (target * gain).sqrt()[:, None] * bell  # [batch, T]
    return h + amplitude[:, None, :, None] * _complex_normal(h.shape, generator, h.device)


def packet_drop(h: torch.Tensor, p: float, *,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``h`` with each snapshot of each sample dropped (zeroed) with probability ``p``.

    Returns:
        ``(h_dropped, dropped)`` with ``dropped: [batch, num_snapshots]`` bool.

    Shapes:
        h, h_dropped: [batch, num_bs_ant, num_snapshots, num_subcarriers], complex64
    """
    check_noise("drop", p)
    batch, _, steps, _ = h.shape
    dropped = torch.rand(batch, steps, generator=generator, device=h.device) < p
    return h.masked_fill(dropped[:, None, :, None], 0), dropped


def apply_noise(h: torch.Tensor, kind: str, level: float, *,
                generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """``h`` impaired by the noise ``kind`` at ``level`` (SNR [dB], or drop probability).

    Raises:
        ConfigError: an unknown kind (listing the kinds) or an impossible level.

    Examples:
        >>> h = torch.ones(1, 2, 16, 4, dtype=torch.complex64)
        >>> apply_noise(h, "drop", 1.0).abs().sum().item()
        0.0
    """
    check_noise(kind, level)
    if kind == "none":
        return h
    if kind == "awgn":
        return awgn(h, level, generator=generator)
    if kind == "phase":
        return phase_noise(h, level, generator=generator)
    if kind == "burst":
        return burst_noise(h, level, generator=generator)
    return packet_drop(h, level, generator=generator)[0]
