"""ICGNN for cell-free downlink power allocation: any number of APs, antennas and users.

Sun, Wu, Wang, Liu, Li, Zhang, "Graph neural network-based precoding and power allocation
for scalable wireless networks" (ICGNN), arXiv `2408.17252 <https://arxiv.org/abs/2408.17252>`_.
**The paper's description** (only the abstract was available; no official code exists):
the network is abstracted as one homogeneous virtual graph so that every node shares one
network, information-carrying message passing, and for cell-free networks power
allocation for any number of APs, antennas and users, trained without labels on the
negative sum rate. **Our choices** where the description stops:

- **Virtual graph.** One node per AP-user link ``(l, k)`` of a sample's real APs and
  users (``L K`` nodes of one kind: no AP or user nodes, so the graph is homogeneous and
  every node runs the same network). Two edge relations: links sharing an AP (they
  compete for its power) and links sharing a user (they serve the same user and
  interfere at the others through their beams). Both are complete within the sample.
- **Features** from the large-scale gains only (the CPU knows ``beta``, not the
  instantaneous channel), in the log domain and normalized: node
  ``[log10(1 + N beta_lk / n0), (beta_lk / max_l' beta_l'k)_dB / 10,
  (beta_lk / max_k' beta_lk')_dB / 10, log2 N]`` (relative gains clipped at -60 dB);
  edge ``j -> i`` the gain difference ``(beta_j / beta_i)_dB / 10`` (clipped to +-6).
- **Information-carrying message passing**: the MU-MISO :class:`ICGNNConv` (messages
  ``MLP([x_i, x_j, e_ji])``, mean and max aggregation, residual update), one conv over
  the same-AP relation then one over the same-user relation per layer, so the two
  relations are aggregated separately (their neighbour counts ``K - 1`` and ``L - 1``
  differ). Mean and max are independent of the neighbours' order, so permuting users or
  APs permutes the output the same way, and the network runs on any ``L, N, K``.
- **Power** (exact by construction): per AP ``l`` a softmax over its users' link logits
  and one "unused power" logit (read out from the mean and max of the AP's link
  states), ``eta_lk = softmax_k([z_l1, ..., z_lK, z_l,off])``, so
  ``sum_k eta_lk = 1 - eta_l,off <= 1`` holds exactly; padded users and APs get 0. The
  link logits start at zero and the off logit at ``-3``: training starts from (almost)
  equal power.
- **Precoder**: the local conjugate beamforming of the baselines
  (:func:`~wirelessml.nn.conjugate_beams.cellfree_precoder`), AP ``l`` sending
  ``sqrt(eta_lk) conj(h_lk) / ||h_lk||`` to user ``k``; only ``eta`` is learned.

Sizes: the paper's are not known to us; ``cpu()`` (3 layers of width 64) and ``paper()``
(4 of width 128) are our choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from wirelessml.config import check_field
from wirelessml.errors import ConfigError
from wirelessml.models.icgnn import ICGNNConv, _mlp
from wirelessml.nn.conjugate_beams import cellfree_precoder
from wirelessml.registry import register_model

__all__ = ["CellFreeICGNN", "CellFreeICGNNConfig", "link_graph"]

_CLIP_DB = 60.0  # relative gains below -60 dB carry no information for the power split


@dataclass(frozen=True, kw_only=True)
class CellFreeICGNNConfig:
    """Configuration of :class:`CellFreeICGNN`.

    Args:
        version: Schema version (default: ``1``).
        hidden: Width of node states and messages (default: ``64``).
        num_layers: Layers, each one same-AP and one same-user conv (default: ``3``).
        max_aps: Largest number of APs ``L`` a sample may have (default: ``64``).
        max_users: Largest number of users ``K`` a sample may have (default: ``64``).
            The graph of a sample has ``L K`` nodes and ``L K (L + K - 2)`` edges; these
            two bound its memory, so a file that would not fit is refused in one line
            before training rather than failing mid-epoch.

    Examples:
        >>> CellFreeICGNNConfig.cpu().hidden, CellFreeICGNNConfig.paper().num_layers
        (64, 4)
    """

    version: int = 1
    hidden: int = 64
    num_layers: int = 3
    max_aps: int = 64
    max_users: int = 64

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        for name in ("hidden", "num_layers", "max_aps", "max_users"):
            value = getattr(self, name)
            check_field(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                        self, name, value, "an integer >= 1")  # fmt: skip

    @classmethod
    def cpu(cls) -> CellFreeICGNNConfig:
        """3 layers of width 64: trains in minutes on a CPU."""
        return cls(hidden=64, num_layers=3)

    @classmethod
    def paper(cls) -> CellFreeICGNNConfig:
        """4 layers of width 128 (our choice; the paper's sizes are unknown)."""
        return cls(hidden=128, num_layers=4, max_aps=128, max_users=128)


def link_graph(user_mask: Tensor, ap_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Same-AP and same-user edges between the real links of each sample.

    Link ``(k, l)`` of sample ``b`` is node ``(b * K + k) * L + l`` of the padded
    ``[batch, K, L]`` layout (that of ``beta``).

    Shapes:
        user_mask: [batch, K]; ap_mask: [batch, L]
        output: two [2, num_edges] int64 (source, target): same AP, same user

    Examples:
        >>> ap, user = link_graph(torch.ones(1, 2), torch.ones(1, 3))
        >>> ap.shape[1], user.shape[1]  # 3 APs x 2 ordered user pairs, 2 users x 6 AP pairs
        (6, 12)
    """
    _, k = user_mask.shape
    ell = ap_mask.shape[1]
    real = (user_mask[:, :, None] > 0) & (ap_mask[:, None, :] > 0)  # [B, K, L]
    dev = real.device
    off_k = ~torch.eye(k, dtype=torch.bool, device=dev)
    pair = real[:, :, None, :] & real[:, None, :, :] & off_k[None, :, :, None]  # [B, K, K', L]
    bi, ks, kd, li = pair.nonzero(as_tuple=True)
    same_ap = torch.stack([(bi * k + ks) * ell + li, (bi * k + kd) * ell + li])
    off_l = ~torch.eye(ell, dtype=torch.bool, device=dev)
    pair = real[:, :, :, None] & real[:, :, None, :] & off_l  # [B, K, L, L']
    bi, ki, ls, ld = pair.nonzero(as_tuple=True)
    same_user = torch.stack([(bi * k + ki) * ell + ls, (bi * k + ki) * ell + ld])
    return same_ap, same_user


@register_model("icgnn-cellfree", CellFreeICGNNConfig,
                "ICGNN (arXiv 2408.17252): cell-free power allocation, any L, N and K")  # fmt: skip
class CellFreeICGNN(nn.Module):
    """ICGNN cell-free power allocation on the AP-user link graph, local conjugate beams.

    Args:
        config: :class:`CellFreeICGNNConfig`.

    Shapes:
        h: [batch, K, L, N], complex64 (padded users/APs/antennas: zeros)
        beta: [batch, K, L], float32 large-scale gains (0 on padding)
        no: [batch], float32 noise power relative to one AP's maximum power
        user_mask: [batch, K], ap_mask: [batch, L], antenna_mask: [batch, N], float32
        output v: [batch, K, L * N], complex64, the stacked precoder (user ``k``'s beam in
        row ``k``); :meth:`power` gives ``eta: [batch, K, L]`` with ``sum_k eta_lk <= 1``

    Raises:
        ConfigError: a sample with no user or no AP, or more users or APs than the config
            allows.

    Examples:
        >>> model = CellFreeICGNN(CellFreeICGNNConfig.cpu())
        >>> h = torch.randn(2, 3, 4, 2, dtype=torch.complex64) * 1e-5
        >>> beta, no = torch.full((2, 3, 4), 1e-10), torch.full((2,), 3e-12)
        >>> v = model(h, beta, no, torch.ones(2, 3), torch.ones(2, 4), torch.ones(2, 2))
        >>> tuple(v.shape), bool((model.power(beta, no, torch.ones(2, 3), torch.ones(2, 4),
        ...                       torch.ones(2, 2)).sum(1) <= 1).all())
        ((2, 3, 8), True)
    """

    NODE_DIM = 4
    EDGE_DIM = 1

    def __init__(self, config: CellFreeICGNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = _mlp([self.NODE_DIM, c.hidden, c.hidden])
        self.ap_layers = nn.ModuleList(ICGNNConv(c.hidden, self.EDGE_DIM)
                                       for _ in range(c.num_layers))  # fmt: skip
        self.user_layers = nn.ModuleList(ICGNNConv(c.hidden, self.EDGE_DIM)
                                         for _ in range(c.num_layers))  # fmt: skip
        self.head = _mlp([c.hidden, c.hidden, 1])
        self.off_head = _mlp([2 * c.hidden, c.hidden, 1])
        # Start from (almost) equal power: equal link logits, little unused power.
        for last, bias in ((self.head[-1], 0.0), (self.off_head[-1], -3.0)):
            nn.init.zeros_(last.weight)
            nn.init.constant_(last.bias, bias)

    def _check(self, beta: Tensor, user_mask: Tensor, ap_mask: Tensor) -> None:
        if beta.ndim != 3 or beta.is_complex():
            raise ConfigError(f"CellFreeICGNN: beta must be real [batch, users, aps]; got "
                              f"{beta.dtype} {tuple(beta.shape)}")  # fmt: skip
        c = self.config
        for what, mask, limit, field in (("users", user_mask, c.max_users, "max_users"),
                                         ("APs", ap_mask, c.max_aps, "max_aps")):  # fmt: skip
            count = mask.sum(-1)
            if bool((count < 1).any()):
                raise ConfigError(f"CellFreeICGNN: sample {int((count < 1).nonzero()[0, 0])} "
                                  f"has zero {what}; every sample needs at least one")  # fmt: skip
            if bool((count > limit).any()):
                raise ConfigError(f"CellFreeICGNN: a sample has {int(count.max())} {what} but "
                                  f"the model's config allows {field}={limit}; use a model "
                                  f"with --set {field}={int(count.max())}")  # fmt: skip

    def _features(self, beta: Tensor, no: Tensor, real: Tensor, num_ant: Tensor
                  ) -> tuple[Tensor, Tensor]:  # fmt: skip
        """Node features [B, K, L, 4] and the link gains in dB [B, K, L]."""
        db = 10.0 * torch.log10(beta.clamp_min(torch.finfo(beta.dtype).tiny))
        low = torch.finfo(db.dtype).min
        db_real = db.masked_fill(~real, low)
        rel_user = (db - db_real.amax(2, keepdim=True)).clamp(-_CLIP_DB, 0) / 10.0
        rel_ap = (db - db_real.amax(1, keepdim=True)).clamp(-_CLIP_DB, 0) / 10.0
        snr = torch.log10(1.0 + num_ant[:, None, None] * beta / no[:, None, None])
        ant = torch.log2(num_ant)[:, None, None].expand_as(snr)
        node = torch.stack([snr, rel_user, rel_ap, ant], -1) * real[..., None]
        return node, db

    def power(self, beta: Tensor, no: Tensor, user_mask: Tensor, ap_mask: Tensor,
              antenna_mask: Tensor) -> Tensor:  # fmt: skip
        """Power coefficients ``eta: [batch, K, L]``, ``sum_k eta_lk <= 1``, 0 on padding."""
        self._check(beta, user_mask, ap_mask)
        b, k, ell = beta.shape
        dtype = beta.dtype
        real = (user_mask[:, :, None] > 0) & (ap_mask[:, None, :] > 0)
        num_ant = antenna_mask.to(dtype).sum(-1).clamp_min(1)
        node, db = self._features(beta, no.to(dtype), real, num_ant)
        same_ap, same_user = link_graph(user_mask, ap_mask)
        flat_db = db.reshape(-1)

        def edge(index: Tensor) -> Tensor:
            diff = (flat_db[index[0]] - flat_db[index[1]]).clamp(-_CLIP_DB, _CLIP_DB) / 10.0
            return diff[:, None]

        e_ap, e_user = edge(same_ap), edge(same_user)
        x = self.embed(node.reshape(b * k * ell, -1))
        for ap_conv, user_conv in zip(self.ap_layers, self.user_layers, strict=True):
            x = ap_conv(x, same_ap, e_ap)
            x = user_conv(x, same_user, e_user)
        logits = self.head(x).reshape(b, k, ell).masked_fill(~real, -math.inf)
        states = x.reshape(b, k, ell, -1)
        count = real.sum(1).clamp_min(1).to(dtype)[..., None]  # [B, L, 1]
        mean = (states * real[..., None]).sum(1) / count
        top = states.masked_fill(~real[..., None], -math.inf).amax(1)
        top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # APs without links
        off = self.off_head(torch.cat([mean, top], -1)).reshape(b, 1, ell)
        eta = torch.softmax(torch.cat([logits, off], dim=1), dim=1)[:, :k]
        return eta * real

    def forward(self, h: Tensor, beta: Tensor, no: Tensor, user_mask: Tensor, ap_mask: Tensor,
                antenna_mask: Tensor) -> Tensor:  # fmt: skip
        if h.ndim != 4 or not h.is_complex():
            raise ConfigError(f"CellFreeICGNN: h must be complex [batch, users, aps, antennas];"
                              f" got {h.dtype} {tuple(h.shape)}")  # fmt: skip
        eta = self.power(beta, no, user_mask, ap_mask, antenna_mask)
        real = (user_mask[:, :, None] * ap_mask[:, None, :]).to(h.real.dtype)
        h = h * real[..., None] * antenna_mask.to(h.real.dtype)[:, None, None, :]
        return cellfree_precoder(h, eta)
