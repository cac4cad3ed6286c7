"""Cell-free downlink power allocation baselines: equal power and fractional power control.

Each AP ``l`` beams to user ``k`` with local conjugate beamforming (MRT on its own
antennas), ``v_lk = sqrt(eta_lk) conj(h_lk) / ||h_lk||``, under the per-AP power constraint
``sum_k eta_lk <= 1``. The sum SE is that of :func:`~wirelessml.tasks.precoding_baselines.sum_rate`
on the stacked channel ``[K, L * N]`` and precoder.

- Equal power: ``eta_lk = 1 / K`` for every real user.
- Fractional power control (FPC): ``eta_lk = beta_lk^nu / sum_k' beta_lk'^nu``
  (``nu = 0`` is equal power; ``nu > 0`` favours a stronger link, ``nu < 0`` a weaker one;
  default ``nu = 0.5``), Interdonato, Björnson, Ngo, Frenger, Larsson (IEEE TWC 2019) style.

Shapes:
    h: [batch, K, L, N], complex; beta: [batch, K, L], real (0 on padding)
    eta: [batch, K, L], real; output precoder: [batch, K, L * N], complex
"""

from __future__ import annotations

import torch

from wirelessml.nn.conjugate_beams import cellfree_precoder
from wirelessml.tasks.precoding_baselines import sum_rate

__all__ = ["cellfree_precoder", "cellfree_sum_rate", "equal_power", "fractional_power"]


def equal_power(beta: torch.Tensor) -> torch.Tensor:
    """``eta_lk = 1/K`` for the real links (``beta > 0``), 0 elsewhere."""
    link = (beta > 0).to(beta.dtype)
    return link / link.sum(1, keepdim=True).clamp_min(1)


def fractional_power(beta: torch.Tensor, nu: float = 0.5) -> torch.Tensor:
    """``eta_lk = beta_lk^nu / sum_k' beta_lk'^nu`` over the real links of each AP."""
    link = beta > 0
    # log domain: beta spans ~100 dB, and beta^nu with negative nu would overflow otherwise
    logits = (nu * torch.log(beta.clamp_min(torch.finfo(beta.dtype).tiny))).masked_fill(
        ~link, -torch.inf
    )
    eta = torch.softmax(logits, dim=1)
    return torch.nan_to_num(eta) * link  # an AP without users gets nothing


def cellfree_sum_rate(h: torch.Tensor, eta: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
    """Sum SE [batch] in bit/s/Hz of local conjugate beamforming with powers ``eta``."""
    return sum_rate(h.flatten(2), cellfree_precoder(h, eta), no)
