"""Classical MU-MISO downlink precoders and the sum rate, batched in torch over padded samples.

Conventions (those of :mod:`wirelessml.simulators.mimo`):

- ``h: [batch, K, M]`` complex, row ``k`` the channel of user ``k``; padded users are zero
  rows and padded antennas zero columns (``user_mask``/``antenna_mask`` mark the real ones).
- A precoder ``v: [batch, K, M]`` has one beam per user in row ``k``: the BS sends
  ``x = sum_k v_k s_k``, so user ``k`` receives ``sum_j (h_k . v_j) s_j + n_k`` (plain
  dot product, no conjugate): the gain matrix is ``g = h @ v^T``. Padded rows of ``v`` and
  its padded antenna columns are zero.
- The power constraint is ``sum_k ||v_k||^2 <= power`` (``power = 1`` in our datasets,
  where ``snr_db = -10 log10(no)``).

.. math::

    \\mathrm{SINR}_k = \\frac{|h_k v_k|^2}{\\sum_{j \\ne k} |h_k v_j|^2 + n_0},\\qquad
    R = \\sum_k \\log_2(1 + \\mathrm{SINR}_k)\\ \\text{[bit/s/Hz]}

Baselines: MRT (:math:`V^T \\propto H^H`), ZF (:math:`V^T \\propto H^H (H H^H)^{-1}`),
RZF/MMSE (:math:`V^T \\propto H^H (H H^H + K n_0 / P\\, I)^{-1}`), each scaled to the full
power by one common factor, and WMMSE (Shi, Razaviyayn, Luo, He, IEEE TSP 2011) for the
unweighted sum rate, iterated until the sum rate of every sample changes by less than
``tol`` (relative) or ``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from wirelessml.errors import ConfigError

__all__ = [
    "WMMSEResult",
    "check_channels",
    "mrt",
    "normalize_power",
    "rzf",
    "sum_rate",
    "user_rates",
    "wmmse",
    "zf",
]


def _masks(h: torch.Tensor, user_mask: torch.Tensor | None, antenna_mask: torch.Tensor | None
           ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    real = h.real.dtype
    um = (h.abs().sum(-1) > 0).to(real) if user_mask is None else user_mask.to(real)
    am = (h.abs().sum(-2) > 0).to(real) if antenna_mask is None else antenna_mask.to(real)
    return um, am


def check_channels(h: torch.Tensor, user_mask: torch.Tensor | None = None,
                   antenna_mask: torch.Tensor | None = None, *, need_k_le_m: bool = False,
                   who: str = "precoder") -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Check a batch of padded channels; return its ``(user_mask, antenna_mask)``.

    Raises:
        ConfigError: not ``[batch, K, M]`` complex, a sample with zero users or antennas,
            or (``need_k_le_m``) a sample with more users than antennas.
    """
    if h.ndim != 3 or not h.is_complex():
        raise ConfigError(f"{who}: h must be a complex [batch, users, antennas] tensor; got "
                          f"{h.dtype} of shape {tuple(h.shape)}")  # fmt: skip
    um, am = _masks(h, user_mask, antenna_mask)
    k, m = um.sum(-1), am.sum(-1)
    for name, count in (("users", k), ("antennas", m)):
        if bool((count < 1).any()):
            i = int((count < 1).nonzero()[0, 0])
            raise ConfigError(f"{who}: sample {i} has zero {name}; every sample needs at least one")
    if need_k_le_m and bool((k > m).any()):
        i = int((k > m).nonzero()[0, 0])
        raise ConfigError(f"{who}: sample {i} has K={int(k[i])} users > M={int(m[i])} antennas; "
                          "ZF needs K <= M (use rzf or wmmse)")  # fmt: skip
    return um, am


def gains(h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Gain matrix ``g[b, k, j] = h_k . v_j`` [batch, K, K] (user k, stream j)."""
    return h @ v.transpose(-1, -2)


def user_rates(h: torch.Tensor, v: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
    """Per-user rates :math:`\\log_2(1+\\mathrm{SINR}_k)` [batch, K] (0 for padded users).

    Shapes:
        h, v: [batch, K, M], complex; no: [batch], real
    """
    p = gains(h, v).abs().square()
    signal = torch.diagonal(p, dim1=-2, dim2=-1)
    interference = p.sum(-1) - signal
    return torch.log2(1.0 + signal / (interference.clamp_min(0) + no[:, None]))


def sum_rate(h: torch.Tensor, v: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
    """Sum spectral efficiency [batch] in bit/s/Hz (padded users contribute 0)."""
    return user_rates(h, v, no).sum(-1)


def normalize_power(v: torch.Tensor, power: float = 1.0) -> torch.Tensor:
    """Scale every sample's precoder to ``sum_k ||v_k||^2 = power`` exactly (one factor)."""
    norm2 = v.abs().square().sum(dim=(-2, -1), keepdim=True)
    return v * torch.sqrt(power / norm2.clamp_min(torch.finfo(norm2.dtype).tiny))


def _masked_inverse(gram: torch.Tensor, um: torch.Tensor) -> torch.Tensor:
    """Inverse of a [batch, K, K] Gram matrix whose padded users are zero rows/columns."""
    pad = torch.diag_embed((1 - um).to(gram.dtype))
    return torch.linalg.inv(gram + pad)


def mrt(h: torch.Tensor, no: torch.Tensor | None = None, *, power: float = 1.0,
        user_mask: torch.Tensor | None = None, antenna_mask: torch.Tensor | None = None
        ) -> torch.Tensor:  # fmt: skip
    """Maximum-ratio transmission ``v_k ∝ conj(h_k)`` [batch, K, M], full power."""
    check_channels(h, user_mask, antenna_mask, who="mrt")
    return normalize_power(h.conj(), power)


def zf(h: torch.Tensor, no: torch.Tensor | None = None, *, power: float = 1.0,
       user_mask: torch.Tensor | None = None, antenna_mask: torch.Tensor | None = None
       ) -> torch.Tensor:  # fmt: skip
    """Zero forcing ``V^T ∝ H^H (H H^H)^{-1}`` [batch, K, M]; needs ``K <= M`` per sample."""
    um, _ = check_channels(h, user_mask, antenna_mask, need_k_le_m=True, who="zf")
    inv = _masked_inverse(h @ h.mT.conj(), um)
    return normalize_power(inv.mT @ h.conj(), power)


def rzf(h: torch.Tensor, no: torch.Tensor, *, power: float = 1.0,
        user_mask: torch.Tensor | None = None, antenna_mask: torch.Tensor | None = None
        ) -> torch.Tensor:  # fmt: skip
    """Regularized ZF / MMSE precoder ``V^T ∝ H^H (H H^H + K n_0/P I)^{-1}`` [batch, K, M]."""
    um, _ = check_channels(h, user_mask, antenna_mask, who="rzf")
    reg = (um.sum(-1) * no / power)[:, None, None] * torch.eye(h.shape[1], device=h.device)
    inv = _masked_inverse(h @ h.mT.conj() + reg.to(h.dtype) * um[:, :, None], um)
    return normalize_power(inv.mT @ h.conj(), power)


@dataclass(frozen=True)
class WMMSEResult:
    """WMMSE's precoder ``v`` [batch, K, M], iterations run, and sum rate per iteration
    ([iterations + 1, batch], the first row that of the initial precoder)."""

    v: torch.Tensor
    iterations: int
    rate_history: torch.Tensor


def _power_of(phi2: torch.Tensor, lam: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """||W(mu)||^2 = sum_m sum_k |phi_mk|^2 / (lam_m + mu)^2 per sample."""
    return (phi2 / (lam[..., None] + mu[:, None, None]).square()).sum(dim=(-2, -1))


def _wmmse_transmit(h: torch.Tensor, u: torch.Tensor, w: torch.Tensor, am: torch.Tensor,
                    power: float) -> torch.Tensor:  # fmt: skip
    """Shi et al.'s transmit update: ``W = (A + mu I)^{-1} H^H diag(u w)`` with the smallest
    ``mu >= 0`` meeting the power constraint (bisection on ``A``'s eigenvalues)."""
    hh = h.mT.conj()  # [B, M, K]
    a = hh @ ((w * u.abs().square())[:, :, None] * h)
    a = a + torch.diag_embed((1 - am).to(a.dtype))  # padded antennas: decoupled, zero RHS
    rhs = hh * (u * w)[:, None, :]
    lam, vecs = torch.linalg.eigh(a)
    phi2 = (vecs.mH @ rhs).abs().square()
    real = lam.dtype
    hi = torch.sqrt(phi2.sum(dim=(-2, -1)) / power).clamp_min(1e-30)
    lo = hi * 1e-12
    # Geometric bisection (the power decreases in mu): 2^-48 of a 1e12-wide log-interval.
    for _ in range(48):
        mid = torch.sqrt(lo * hi)
        too_much = _power_of(phi2, lam, mid) > power
        lo, hi = torch.where(too_much, mid, lo), torch.where(too_much, hi, mid)
    # ``hi`` meets the constraint; when even mu -> 0 does, ``hi`` is ~1e-12 of its start (a
    # negligible regularization that keeps a rank-deficient ``A`` (K < M) solvable).
    reg = torch.diag_embed(hi[:, None].expand(-1, a.shape[-1])).to(a.dtype)
    wt = torch.linalg.solve(a + reg, rhs)  # [B, M, K]
    v = wt.mT
    norm2 = v.abs().square().sum(dim=(-2, -1))
    scale = torch.where(norm2 > power, torch.sqrt(power / norm2), torch.ones_like(norm2))
    return v * scale[:, None, None].to(real)


def wmmse(h: torch.Tensor, no: torch.Tensor, *, power: float = 1.0,
          user_mask: torch.Tensor | None = None, antenna_mask: torch.Tensor | None = None,
          init: str = "rzf", tol: float = 1e-4, max_iter: int = 200) -> WMMSEResult:  # fmt: skip
    """WMMSE for the sum rate (Shi et al., IEEE TSP 2011), batched, run to convergence.

    Each iteration updates the MMSE receivers :math:`u_k = h_k v_k / (\\sum_j |h_k v_j|^2 + n_0)`,
    the weights :math:`w_k = 1/e_k` (``e_k`` the MMSE) and the precoder
    :math:`W = (\\sum_k w_k |u_k|^2 h_k^H h_k + \\mu I)^{-1} H^H \\mathrm{diag}(u_k w_k)`
    with :math:`\\mu \\ge 0` found by bisection so that ``sum_k ||v_k||^2 <= power``.
    Block-coordinate descent on the WMMSE objective, so the sum rate never decreases.

    Args:
        h: [batch, K, M] complex channels (padded: zero rows/columns).
        no: [batch] noise variances.
        power: Total transmit power (default: ``1``).
        init: Initial precoder, ``"rzf"`` or ``"mrt"`` (default: ``"rzf"``).
        tol: Stop when every sample's sum rate changed by less than ``tol`` relative
            (default: ``1e-4``).
        max_iter: At most this many iterations (default: ``200``).

    Returns:
        :class:`WMMSEResult`.
    """
    um, am = check_channels(h, user_mask, antenna_mask, who="wmmse")
    if init not in ("rzf", "mrt"):
        raise ConfigError(f"wmmse: init={init!r} is not allowed: expected 'rzf' or 'mrt'")
    no = no.to(h.real.dtype)
    v = rzf(h, no, power=power, user_mask=um, antenna_mask=am) if init == "rzf" else \
        mrt(h, power=power, user_mask=um, antenna_mask=am)  # fmt: skip
    history = [sum_rate(h, v, no)]
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        g = gains(h, v)
        total = g.abs().square().sum(-1) + no[:, None]
        signal = torch.diagonal(g, dim1=-2, dim2=-1)
        u = signal / total * um
        mse = (1.0 - signal.abs().square() / total).clamp_min(1e-12)
        w = (1.0 / mse) * um
        v = _wmmse_transmit(h, u, w.to(h.real.dtype), am, power)
        history.append(sum_rate(h, v, no))
        change = (history[-1] - history[-2]).abs() / history[-2].abs().clamp_min(1e-9)
        if bool((change < tol).all()):
            break
    return WMMSEResult(v=v, iterations=it, rate_history=torch.stack(history))
