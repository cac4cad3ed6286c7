"""Per-sample linear prediction of a multi-series complex time series (AR / Wiener fit).

CDL channels are sums of a few Doppler-shifted complex exponentials shared by every BS
port and subcarrier, so one autoregressive recursion, fitted by least squares over all of
a sample's series, predicts them all. Used by the ``ar`` baseline and by the optional AR
skip of the learned CSI predictors (``ar_skip``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

__all__ = ["SELECT_ORDERS", "ARFit", "ar_backtest", "ar_candidates", "ar_fit", "ar_predict", "ar_rollout", "ar_select"]


SELECT_ORDERS = (2, 4, 6, 8)
"""The AR orders a per-sample order selection (:func:`ar_select`) chooses from by default."""


class ARFit(NamedTuple):
    """A per-sample AR fit: ``coef`` [batch, p] complex128 (newest lag first) and
    ``residual`` [batch] float64, the fit's normalized in-sample error
    :math:`\\sum|h_t - \\sum_i c_i h_{t-i}|^2 / \\sum |h_t|^2` over the fitted rows: near
    zero on a clean, predictable history; on a noisy one it grows with the noise power
    (about (1 + ||c||^2) / SNR)."""

    coef: torch.Tensor
    residual: torch.Tensor


def ar_predict(h_hist: torch.Tensor, num_horizon: int, *, order: int = 4, ridge: float = 1e-9,
               max_gain: float | None = None) -> torch.Tensor:  # fmt: skip
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
        max_gain: If set, a sample whose prediction has more than ``max_gain`` times the
            mean power of its history (an unstable recursion, e.g. fitted on a history
            with dropped snapshots) gets its last snapshot repeated instead (the reference
            PAD predictor's fall-back). ``None``: no check.

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
    fit = ar_fit(h_hist, order=order, ridge=ridge)
    return ar_rollout(h_hist, fit.coef, num_horizon, max_gain=max_gain)


def _series(h_hist: torch.Tensor) -> torch.Tensor:
    """[batch, A, T, K] -> [batch, A*K, T] complex128."""
    batch, ant, steps, sc = h_hist.shape
    return h_hist.to(torch.complex128).permute(0, 1, 3, 2).reshape(batch, ant * sc, steps)


def ar_fit(h_hist: torch.Tensor, *, order: int = 4, ridge: float = 1e-9) -> ARFit:
    """The per-sample least-squares AR fit of :func:`ar_predict` and its residual.

    A single snapshot has nothing to fit: the "fit" repeats it (``coef`` 1, ``residual`` 1).

    Shapes:
        h_hist: [batch, num_bs_ant, num_history, num_subcarriers], complex64
    """
    steps = h_hist.shape[2]
    p = max(1, min(order, steps - 1))
    x = _series(h_hist)
    batch = x.shape[0]
    if steps < 2:
        one = torch.ones(batch, 1, dtype=x.dtype, device=x.device)
        return ARFit(one, one.real.squeeze(1))
    # The normal equations from the lag products m[a, b] = sum over series of conj(x[a]) x[b]
    # ([batch, T, T]): with regressors x[t-1], ..., x[t-p] for t = p .. steps-1, the Gram
    # matrix is sum_t m[t-i, t-j] and the right-hand side sum_t m[t-i, t]; no [rows, p]
    # regressor matrix is built, so every order costs the same small [T, T] product.
    m = x.mH @ x
    t = torch.arange(p, steps, device=x.device)
    lag = torch.arange(1, p + 1, device=x.device)
    gram = m[:, t[None, None, :] - lag[:, None, None], t[None, None, :] - lag[None, :, None]]
    gram = gram.sum(-1)  # [batch, p, p]
    rhs = m[:, t[None, :] - lag[:, None], t[None, :]].sum(-1)  # [batch, p]
    power = m[:, t, t].real.sum(-1)  # sum |y|^2
    load = gram.diagonal(dim1=1, dim2=2).real.mean(dim=1).clamp_min(1e-30) * ridge
    eye = torch.eye(p, dtype=gram.dtype, device=gram.device)
    coef = torch.linalg.solve(gram + load[:, None, None] * eye, rhs[..., None])[..., 0]
    # |y - phi c|^2 = |y|^2 - 2 Re(c^H rhs) + c^H gram c
    fit_power = (coef.conj()[:, None, :] @ gram @ coef[..., None])[:, 0, 0].real
    err = (power - 2.0 * (coef.conj() * rhs).sum(-1).real + fit_power).clamp_min(0.0)
    return ARFit(coef, err / power.clamp_min(1e-30))


def ar_rollout(h_hist: torch.Tensor, coef: torch.Tensor, num_horizon: int, *,
               max_gain: float | None = None) -> torch.Tensor:  # fmt: skip
    """Run the recursion ``coef`` [batch, p] forward from the end of ``h_hist`` (see
    :func:`ar_predict` for ``max_gain``); returns [batch, A, num_horizon, K] in h_hist's dtype."""
    batch, ant, steps, sc = h_hist.shape
    p = coef.shape[1]
    x = _series(h_hist)
    window = x[:, :, steps - p :].flip(-1)  # newest first: x[t-1], ..., x[t-p]
    out = []
    for _ in range(num_horizon):
        nxt = (window * coef[:, None, :]).sum(-1)  # [batch, series]
        out.append(nxt)
        window = torch.cat([nxt[..., None], window[..., :-1]], dim=-1)
    pred = torch.stack(out, dim=-1).reshape(batch, ant, sc, num_horizon).permute(0, 1, 3, 2)
    if max_gain is not None:
        power_hist = x.abs().square().mean(dim=(1, 2))
        power_pred = pred.abs().square().mean(dim=(1, 2, 3))
        unstable = ~(power_pred <= max_gain * power_hist)  # NaN counts as unstable
        last = h_hist[:, :, -1:].to(pred.dtype).expand_as(pred)
        pred = torch.where(unstable[:, None, None, None], last, pred)
    return pred.to(h_hist.dtype)


def ar_backtest(h_hist: torch.Tensor, num_horizon: int, *, order: int = 4, ridge: float = 1e-9,
                max_gain: float | None = None,
                target: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
    """How well AR(``order``) predicts this sample: fitted on all but the last ``num_horizon``
    snapshots of ``h_hist``, it predicts those, and the error is normalized per sample,
    :math:`\\sum |\\hat h - h|^2 / \\sum |h|^2` over the held-out snapshots.

    The held-out truth is ``target`` (e.g. the noisy snapshots when ``h_hist`` is a denoised
    copy, so that candidates fitted on different rows are scored alike) or by default the
    history's own last snapshots. On noisy snapshots the error has a floor of about 1/SNR,
    the same for every candidate. Needs ``num_horizon + 2`` snapshots at least.

    Shapes:
        h_hist: [batch, A, T, K]; target: [batch, A, num_horizon, K] -> [batch] float64
    """
    steps = h_hist.shape[2]
    if steps < num_horizon + 2:
        raise ValueError(f"a backtest over {num_horizon} snapshots needs at least "
                         f"{num_horizon + 2} snapshots of history, got {steps}")  # fmt: skip
    truth = h_hist[:, :, -num_horizon:] if target is None else target
    pred = ar_predict(h_hist[:, :, :-num_horizon], num_horizon, order=order, ridge=ridge,
                      max_gain=max_gain)  # fmt: skip
    err = (pred.to(torch.complex128) - truth.to(torch.complex128)).abs().square().sum(dim=(1, 2, 3))
    return err / truth.to(torch.complex128).abs().square().sum(dim=(1, 2, 3)).clamp_min(1e-30)


def ar_candidates(histories: Sequence[torch.Tensor], num_horizon: int, *,
                  orders: Sequence[int] = SELECT_ORDERS, ridge: float = 1e-9,
                  max_gain: float | None = None,
                  target: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The AR(p) predictions (p in ``orders``) of each of ``histories`` and their
    :func:`ar_backtest` errors against ``target`` (default: the first history's last
    ``num_horizon`` snapshots; computed without gradient), history-major: candidate
    ``history * len(orders) + order position``.

    Shapes:
        histories: each [batch, A, T, K] -> [batch, C, A, num_horizon, K] and [batch, C]
    """
    truth = histories[0][:, :, -num_horizon:] if target is None else target
    kw = {"ridge": ridge, "max_gain": max_gain}
    with torch.no_grad():
        err = torch.stack([ar_backtest(h, num_horizon, order=p, target=truth, **kw)
                           for h in histories for p in orders], dim=1)  # fmt: skip
    preds = torch.stack([ar_predict(h, num_horizon, order=p, **kw)
                         for h in histories for p in orders], dim=1)  # fmt: skip
    return preds, err


def ar_select(histories: Sequence[torch.Tensor], num_horizon: int, *,
              orders: Sequence[int] = SELECT_ORDERS, ridge: float = 1e-9,
              max_gain: float | None = None,
              target: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Per-sample order selection: of the :func:`ar_candidates` (e.g. of a noisy and a
    denoised copy of the history), each sample gets the one with the lowest backtest error.
    The choice is made without gradient; the chosen prediction keeps its gradient.

    Returns:
        The prediction [batch, A, num_horizon, K] and the chosen candidate's index [batch].
    """
    preds, err = ar_candidates(histories, num_horizon, orders=orders, ridge=ridge,
                               max_gain=max_gain, target=target)  # fmt: skip
    pick = err.argmin(dim=1)
    return preds[torch.arange(pick.shape[0], device=pick.device), pick], pick
