"""Local conjugate beamforming of a cell-free downlink (shared by the model and the baselines).

AP ``l`` beams to user ``k`` with MRT on its own antennas,
``v_lk = sqrt(eta_lk) conj(h_lk) / ||h_lk||``; the power coefficients ``eta`` come from a
baseline rule or a learned allocation.

Shapes:
    h: [batch, K, L, N], complex; eta: [batch, K, L], real
    output precoder: [batch, K, L * N], complex (APs' antennas stacked per user)
"""

from __future__ import annotations

import torch

__all__ = ["cellfree_precoder"]


def cellfree_precoder(h: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Local conjugate beamforming with power coefficients ``eta`` [batch, K, L * N]."""
    norm = h.abs().square().sum(-1, keepdim=True).sqrt()
    direction = h.conj() / norm.clamp_min(torch.finfo(norm.dtype).tiny)
    # Clamped before the root: sqrt'(0) is infinite, and 0 * inf would poison the gradient
    # of a learned eta (padded links and powers that underflow to 0).
    amp = torch.where(eta > 0, eta.clamp_min(torch.finfo(eta.dtype).tiny).sqrt(), 0.0)
    v = direction * amp[..., None].to(h.real.dtype)
    return v.flatten(2)
