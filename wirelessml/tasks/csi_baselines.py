"""Classical CSI predictors needing no training: no prediction and a per-sample AR (Wiener) fit.

- ``no-prediction``: every future snapshot is the last history snapshot.
- ``ar``: an autoregressive predictor of order ``p`` fitted **per sample** by least
  squares over all of its BS ports and subcarriers (they share the path Dopplers, so
  they share the recursion), then run forward ``num_horizon`` steps. With the sample's
  own correlation estimates this is the Wiener (linear MMSE) one-step predictor; a sum
  of at most ``p`` complex exponentials in time is predicted exactly.
- ``ar-select``: the same fit with the order chosen **per sample** from 2, 4, 6, 8: the
  order that best predicts the history's last ``num_horizon`` snapshots from the ones
  before (a backtest, :func:`~wirelessml.nn.linear_prediction.ar_select`). High orders
  resolve more Doppler components at high SNR; low orders overfit less noise.

For FDD (a DL target from the UL history), both predict the UL future and hand it over
as the DL estimate, which needs as many DL as UL subcarriers: the classical answer when
no learned UL-to-DL mapping is available.
"""

from __future__ import annotations

import torch

from wirelessml.errors import ConfigError
from wirelessml.nn.linear_prediction import SELECT_ORDERS, ar_predict, ar_select

__all__ = ["ARPredictor", "ARSelectPredictor", "NoPrediction", "ar_predict"]


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


class ARSelectPredictor(_Classical):
    """Per-sample AR predictor whose order (from :data:`SELECT_ORDERS`) is chosen per sample
    by a backtest on the history's last ``num_horizon`` snapshots; see :func:`ar_select`."""

    def __call__(self, h_hist: torch.Tensor) -> torch.Tensor:
        self._check(h_hist)
        return ar_select([h_hist], self.num_horizon, orders=SELECT_ORDERS)[0]
