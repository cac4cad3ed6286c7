"""Classical CSI predictors needing no training: no prediction and a per-sample AR (Wiener) fit.

- ``no-prediction``: every future snapshot is the last history snapshot.
- ``ar``: an autoregressive predictor of order ``p`` fitted **per sample** by least
  squares over all of its BS ports and subcarriers (they share the path Dopplers, so
  they share the recursion), then run forward ``num_horizon`` steps. With the sample's
  own correlation estimates this is the Wiener (linear MMSE) one-step predictor; a sum
  of at most ``p`` complex exponentials in time is predicted exactly.

For FDD (a DL target from the UL history), both predict the UL future and hand it over
as the DL estimate, which needs as many DL as UL subcarriers: the classical answer when
no learned UL-to-DL mapping is available.
"""

from __future__ import annotations

import torch

from wirelessml.errors import ConfigError

__all__ = ["ARPredictor", "NoPrediction", "ar_predict"]


def ar_predict(h_hist: torch.Tensor, num_horizon: int, *, order: int = 4,
               ridge: float = 1e-9) -> torch.Tensor:  # fmt: skip
    """AR(``order``) prediction of ``num_horizon`` snapshots, fitted per sample.

    .. math::

        h_t = \\sum_{i=1}^{p} c_i h_{t-i},\\qquad
        c = \\arg\\min \\sum_{a,k,t} |h_{a,k,t} - \\sum_i c_i h_{a,k,t-i}|^2
          + \\lambda \\|c\\|^2

    with :math:`\\lambda` = ``ridge`` times the mean diagonal of the normal matrix.

    Args:
        h_hist: History (noisy or clean).
        num_horizon: Snapshots to predict.
        order: AR order ``p`` (at most ``num_history - 1``; lowered to it if larger).
        ridge: Relative Tikhonov regularization of the normal equations.

    Shapes:
        h_hist: [batch, num_bs_ant, num_history, num_subcarriers], complex64
        output: [batch, num_bs_ant, num_horizon, num_subcarriers], complex64

    Examples:
        >>> t = torch.arange(20, dtype=torch.float64)
        >>> h = torch.exp(1j * 0.3 * t).to(torch.complex64).reshape(1, 1, 20, 1)
        >>> pred = ar_predict(h[:, :, :16], 4, order=2)
        >>> bool((pred - h[:, :, 16:]).abs().max() < 1e-4)
        True
    """
    batch, ant, steps, sc = h_hist.shape
    p = max(1, min(order, steps - 1))
    if steps < 2:
        return h_hist[:, :, -1:].expand(batch, ant, num_horizon, sc).clone()
    x = h_hist.to(torch.complex128).permute(0, 1, 3, 2).reshape(batch, ant * sc, steps)
    # Regressors [batch, series, rows, p]: x[t-1], ..., x[t-p] for t = p .. steps-1.
    phi = torch.stack([x[:, :, p - i : steps - i] for i in range(1, p + 1)], dim=-1)
    y = x[:, :, p:]
    phi = phi.reshape(batch, -1, p)
    y = y.reshape(batch, -1)
    gram = phi.mH @ phi  # [batch, p, p]
    load = gram.diagonal(dim1=1, dim2=2).real.mean(dim=1).clamp_min(1e-30) * ridge
    gram = gram + load[:, None, None] * torch.eye(p, dtype=gram.dtype)
    coef = torch.linalg.solve(gram, (phi.mH @ y[..., None]))[..., 0]  # [batch, p]
    window = x[:, :, steps - p :].flip(-1)  # newest first: x[t-1], ..., x[t-p]
    out = []
    for _ in range(num_horizon):
        nxt = (window * coef[:, None, :]).sum(-1)  # [batch, series]
        out.append(nxt)
        window = torch.cat([nxt[..., None], window[..., :-1]], dim=-1)
    pred = torch.stack(out, dim=-1).reshape(batch, ant, sc, num_horizon).permute(0, 1, 3, 2)
    return pred.to(torch.complex64)


class _Classical:
    """Called like a model on a batch: ``h_future`` estimate from the (noisy) history."""

    def __init__(self, num_horizon: int, num_out_subcarriers: int) -> None:
        self.num_horizon = num_horizon
        self.num_out_subcarriers = num_out_subcarriers

    def _check(self, h_hist: torch.Tensor) -> None:
        if h_hist.shape[-1] != self.num_out_subcarriers:
            raise ConfigError(
                f"{type(self).__name__} hands the UL prediction over as the target, which "
                f"needs as many target subcarriers ({self.num_out_subcarriers}) as UL "
                f"subcarriers ({h_hist.shape[-1]}); make the DL band as wide as the UL band"
            )


class NoPrediction(_Classical):
    """Repeat the last history snapshot (the outdated-CSI baseline)."""

    def __call__(self, h_hist: torch.Tensor) -> torch.Tensor:
        self._check(h_hist)
        last = h_hist[:, :, -1:]
        return last.expand(-1, -1, self.num_horizon, -1).clone()


class ARPredictor(_Classical):
    """Per-sample AR(``order``) least-squares (Wiener) predictor; see :func:`ar_predict`."""

    def __init__(self, num_horizon: int, num_out_subcarriers: int, order: int = 4) -> None:
        super().__init__(num_horizon, num_out_subcarriers)
        self.order = order

    def __call__(self, h_hist: torch.Tensor) -> torch.Tensor:
        self._check(h_hist)
        return ar_predict(h_hist, self.num_horizon, order=self.order)
