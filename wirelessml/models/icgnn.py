"""ICGNN: information-carrying GNN precoding for MU-MISO without matrix inversion.

Sun, Wu, Wang, Liu, Li, Zhang, "Graph neural network-based precoding and power allocation
for scalable wireless networks" (ICGNN), arXiv `2408.17252 <https://arxiv.org/abs/2408.17252>`_.
No official code exists and only the abstract was available; what follows is the paper's
description (a homogeneous virtual graph where every node shares one network,
information-carrying message passing, inverse-free precoding through conjugate-gradient
iterations steered by the network, unsupervised training on the negative sum rate) and
**our choices** where the description stops:

- **Virtual graph.** One node per user, i.e. per BS→user link: the BS is not a node of
  its own (so TX and user entities do not make the graph heterogeneous) and the number
  of antennas enters only through the node and edge features, so one network serves
  any number of users K and antennas M. The graph of a sample is complete (every user
  interferes with every other). The features are invariant to a per-user phase and to
  any unitary change of the antenna basis, as the sum rate is: node
  ``[log10(1 + ||h_k||^2/n0), snr_db/10]`` (plus the load ``K/M`` with
  ``load_feature`` and the MMSE rate with ``mmse_feature``), edge ``j -> k`` the squared
  channel correlation ``|h_k h_j^H|^2 / (||h_k||^2 ||h_j||^2)`` and
  ``log10(1 + ||h_j||^2/n0)``.
- **Load feature** (our addition): mean and max aggregation are blind to the number of
  users, so without it the network cannot tell a fully loaded ``K = M`` sample (where
  switching users off pays) from a lightly loaded one. ``K/M`` stays in ``(0, 1]`` at any
  size, so ``K = M = 8`` looks, by load, like the trained ``K = M = 4``.
- **MMSE feature** (our addition, ``mmse_feature``): pairwise correlations do not tell a
  user how much of its channel lies in the span of *all* the others, and at ``K = M = 8``
  (7 interferers in 8 dimensions) that joint geometry decides which users the sum rate
  wants switched off. Every node also gets ``log10(1 + SINR_k)`` of the linear MMSE
  receiver in the dual uplink with equal powers ``P/K``: with
  :math:`\\delta = K n_0 / P` (RZF's regularization, where training starts) and
  :math:`X_0 = (\\delta I + H H^H)^{-1}` solved by the same CG (no inversion), the MMSE
  matrix is :math:`\\delta X_0`, so :math:`1 + \\mathrm{SINR}_k = 1 / (\\delta [X_0]_{kk})`.
  It is of the same kind as the per-user MSEs by which WMMSE weighs the users, its
  distribution depends on the load more than on ``K`` and ``M`` separately, and it is a
  function of the input alone (computed without gradient).
- **Information-carrying message passing** (:class:`ICGNNConv`): the message from ``j``
  carries ``j``'s hidden state together with the edge and the receiver's state,
  ``m_jk = MLP([x_k, x_j, e_jk])``; messages are aggregated by mean and max (both
  independent of the number of neighbours' order, the mean also of their count), and
  the node keeps carrying its own information through a residual update
  ``x_k <- x_k + MLP([x_k, mean_j m_jk, max_j m_jk])``.
- **Network-steered conjugate gradient.** The optimal MISO sum-rate beamformers have the
  structure (Björnson, Bengtsson, Ottersten, IEEE SPM 2014)
  :math:`v_k \\propto (n_0 I + \\sum_j \\lambda_j h_j^H h_j)^{-1} h_k^H` with
  :math:`\\sum_j \\lambda_j = P`, plus a power split :math:`p_k`; by the push-through
  identity the directions are the columns of :math:`H^H (D + H H^H)^{-1}` with
  :math:`D = \\mathrm{diag}(n_0 / \\lambda_k)`: a ZF with a per-user regularization. The
  GNN outputs per user the two logits of ``lambda = softmax`` and ``p = softmax`` (over the
  sample's real users), and the ``K x K`` Hermitian positive definite system
  ``(D + H H^H) X = I`` is solved by ``cg_steps`` Jacobi-preconditioned CG iterations
  (matrix products only, no inversion); ``cg_steps >= K`` gives the exact solution in
  exact arithmetic. With zero logits (the initialization of the output layer) this is
  RZF with equal power, so training starts from RZF.
- **Power.** :math:`v_k = \\sqrt{P p_k}\\, d_k / \\|d_k\\|`, so
  :math:`\\sum_k \\|v_k\\|^2 = P` holds exactly, by construction.

Sizes: the paper's layer sizes are not known to us; ``paper()`` and ``cpu()`` are our
choices (4 layers of width 128, and 3 of width 64).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter

from wirelessml.config import check_field
from wirelessml.errors import ConfigError
from wirelessml.registry import register_model

__all__ = ["ICGNN", "ICGNNConfig", "ICGNNConv", "complete_graph", "conjugate_gradient"]


@dataclass(frozen=True, kw_only=True)
class ICGNNConfig:
    """Configuration of :class:`ICGNN`.

    Args:
        version: Schema version (default: ``1``).
        hidden: Width of node states and messages (default: ``64``).
        num_layers: Message-passing layers (default: ``3``).
        cg_steps: Conjugate-gradient iterations (default: ``8``; ``cpu()``: 16, since 8 do
            not converge in float32 for ill-conditioned fully loaded ``K = M = 8``).
        max_users: Largest number of users a sample may have; more is refused, since CG
            with fewer steps than users is truncated (default: ``16``).
        power: Total transmit power ``P`` (default: ``1``, the datasets' convention).
        load_feature: Give every node the load ``K/M`` as a third feature (default:
            ``False``, which reads runs saved before this field existed; ``cpu()`` and
            ``paper()``: ``True``).
        mmse_feature: Give every node its MMSE rate ``log10(1 + SINR_k)`` (equal-power dual
            uplink, one extra CG solve) as a further feature (default: ``False``, which
            reads runs saved before this field existed; ``cpu()`` and ``paper()``: ``True``).

    Examples:
        >>> ICGNNConfig.cpu().hidden, ICGNNConfig.paper().hidden
        (64, 128)
    """

    version: int = 1
    hidden: int = 64
    num_layers: int = 3
    cg_steps: int = 8
    max_users: int = 16
    power: float = 1.0
    load_feature: bool = False
    mmse_feature: bool = False

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        for name, low in (("hidden", 1), ("num_layers", 1), ("cg_steps", 1), ("max_users", 1)):
            value = getattr(self, name)
            check_field(isinstance(value, int) and value >= low, self, name, value,
                        f"an integer >= {low}")  # fmt: skip
        check_field(isinstance(self.power, int | float) and self.power > 0, self, "power",
                    self.power, "a number > 0")  # fmt: skip
        for name in ("load_feature", "mmse_feature"):
            value = getattr(self, name)
            check_field(isinstance(value, bool), self, name, value, "True or False")

    @classmethod
    def cpu(cls) -> ICGNNConfig:
        """3 layers of width 64, 16 CG steps, load and MMSE features: trains in minutes on a CPU."""
        return cls(hidden=64, num_layers=3, cg_steps=16, load_feature=True, mmse_feature=True)

    @classmethod
    def paper(cls) -> ICGNNConfig:
        """4 layers of width 128 (our choice; the paper's sizes are unknown)."""
        return cls(hidden=128, num_layers=4, cg_steps=16, max_users=32, load_feature=True,
                   mmse_feature=True)  # fmt: skip


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class ICGNNConv(MessagePassing):
    """One information-carrying message-passing layer (mean and max aggregation, residual).

    .. math::

        m_{jk} = \\mathrm{MLP}_m([x_k, x_j, e_{jk}]),\\quad
        x_k' = x_k + \\mathrm{MLP}_u([x_k, \\mathrm{mean}_j m_{jk}, \\max_j m_{jk}])

    Args:
        hidden: Node state and message width.
        edge_dim: Edge feature width.

    Shapes:
        x: [num_nodes, hidden]; edge_index: [2, num_edges] (source, target);
        edge_attr: [num_edges, edge_dim]; output: [num_nodes, hidden]
    """

    def __init__(self, hidden: int, edge_dim: int) -> None:
        super().__init__(aggr=None)
        self.msg = _mlp([2 * hidden + edge_dim, hidden, hidden])
        self.upd = _mlp([3 * hidden, hidden, hidden])

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        # The message MLP's first layer is linear in [x_i, x_j, e]: its receiver and sender
        # parts are applied once per node, not once per edge (the same function; a complete
        # graph has K - 1 edges per node, so this saves most of the layer's work).
        w, bias, hidden = self.msg[0].weight, self.msg[0].bias, x.shape[-1]
        recv = nn.functional.linear(x, w[:, :hidden], bias)
        send = nn.functional.linear(x, w[:, hidden : 2 * hidden])
        # deg > 0: every node has `deg` incoming edges, stored together (complete_graph's
        # order, every sample with the same number of users); the receiver's part is then
        # broadcast and the aggregation reduces a [nodes, deg, hidden] view, no scatter.
        deg = _uniform_in_degree(edge_index[1], x.shape[0])
        return x + self.propagate(edge_index, x=x, recv=recv, send=send, edge_attr=edge_attr,
                                  deg=deg)  # fmt: skip

    def message(self, recv: Tensor, send_j: Tensor, edge_attr: Tensor, index: Tensor,
                deg: int) -> Tensor:  # fmt: skip
        hidden = recv.shape[-1]
        if deg:
            pre = (send_j.view(-1, deg, hidden) + recv[:, None]).view(-1, hidden)
        else:
            pre = recv.index_select(0, index) + send_j
        # The edge part of the first layer, one column at a time: a matrix product with an
        # inner dimension of 2 is several times slower than these two fused passes.
        w_edge = self.msg[0].weight[:, 2 * hidden :]
        for d in range(edge_attr.shape[-1]):
            pre.addcmul_(edge_attr[:, d : d + 1], w_edge[:, d])
        act = nn.functional.silu(pre, inplace=not torch.is_grad_enabled())
        # The last layer's bias is added after the aggregation (mean and max commute with
        # it): per edge it would cost a copy of the bias into every row.
        return act @ self.msg[2].weight.T

    def aggregate(self, inputs: Tensor, index: Tensor, deg: int,
                  dim_size: int | None = None) -> Tensor:  # fmt: skip
        num = inputs.shape[0] if dim_size is None else dim_size
        bias = self.msg[2].bias
        if deg:
            grouped = inputs.view(num, deg, -1)
            return torch.cat([grouped.mean(1) + bias, grouped.amax(1) + bias], dim=-1)
        mean = scatter(inputs, index, dim=0, dim_size=num, reduce="mean")
        top = scatter(inputs, index, dim=0, dim_size=num, reduce="max")
        # A node without incoming edges aggregates to zero, as without the deferred bias.
        has = (torch.bincount(index, minlength=num) > 0).to(inputs.dtype)[:, None]
        return torch.cat([mean + has * bias, top + has * bias], dim=-1)

    def update(self, aggr_out: Tensor, x: Tensor) -> Tensor:
        return self.upd(torch.cat([x, aggr_out], dim=-1))


def _uniform_in_degree(index: Tensor, num_nodes: int) -> int:
    """``deg`` if edge ``e`` targets node ``e // deg`` for all ``num_nodes * deg`` edges, else 0.

    Shapes:
        index: [num_edges], int64 (the edges' targets)
    """
    deg = index.numel() // max(num_nodes, 1)
    if deg < 1 or index.numel() != num_nodes * deg:
        return 0
    nodes = torch.arange(num_nodes, device=index.device)
    return deg if bool((index.view(num_nodes, deg) == nodes[:, None]).all()) else 0


def complete_graph(user_mask: Tensor) -> Tensor:
    """Edges ``j -> k`` between every two distinct real users of each sample.

    Nodes are numbered ``b * K + k`` over the padded ``[batch, K]`` layout; the edges are
    ordered by target (all edges into a node are consecutive).

    Shapes:
        user_mask: [batch, K]; output: [2, num_edges], int64 (source, target)
    """
    b, k = user_mask.shape
    real = user_mask > 0
    pair = real[:, :, None] & real[:, None, :] & ~torch.eye(k, dtype=torch.bool,
                                                             device=user_mask.device)  # fmt: skip
    bi, dst, src = pair.nonzero(as_tuple=True)
    return torch.stack([bi * k + src, bi * k + dst])


def conjugate_gradient(a: Tensor, steps: int) -> Tensor:
    """Jacobi-preconditioned CG for ``A X = I`` with a batch of Hermitian PD ``A``.

    Every column of ``X`` is its own CG run (its own step sizes), so permuting the rows
    and columns of ``A`` permutes ``X`` the same way. Only matrix products: no inversion.

    Shapes:
        a: [batch, K, K], complex; output: [batch, K, K], complex
    """
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device).expand_as(a)
    pinv = 1.0 / torch.diagonal(a, dim1=-2, dim2=-1).real[..., None]  # Jacobi
    x = eye * pinv  # the preconditioner's own solution is the first iterate
    r = eye - a @ x
    z = r * pinv
    p = z
    rz = (r.conj() * z).real.sum(-2, keepdim=True)  # [B, 1, K], one per column
    # A column whose residual has reached float precision stops: its step sizes would be
    # 0/0, finite forward but infinite in the backward pass (which would poison training).
    floor = rz * torch.finfo(rz.dtype).eps ** 1.5
    for _ in range(steps):
        if not bool((rz > floor).any()):
            break  # every column has stopped, and a stopped column stays stopped: x is final
        ap = a @ p
        pap = (p.conj() * ap).real.sum(-2, keepdim=True)
        active = (rz > floor) & (pap > 0)
        alpha = torch.where(active, rz / torch.where(active, pap, torch.ones_like(pap)), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        z = r * pinv
        rz_new = (r.conj() * z).real.sum(-2, keepdim=True)
        beta = torch.where(active, rz_new / torch.where(active, rz, torch.ones_like(rz)), 0.0)
        p = z + beta * p
        rz = rz_new
    return x


@register_model("icgnn", ICGNNConfig,
                "ICGNN (arXiv 2408.17252): GNN-steered CG precoding for MU-MISO, any K and M")  # fmt: skip
class ICGNN(nn.Module):
    """ICGNN MU-MISO precoder: GNN on the user graph, CG-solved regularized ZF, exact power.

    Args:
        config: :class:`ICGNNConfig`.

    Shapes:
        h: [batch, K, M], complex64 (padded users/antennas: zero rows/columns)
        no: [batch], float32 noise variance
        user_mask: [batch, K], antenna_mask: [batch, M], float32 (1 real, 0 padding)
        output v: [batch, K, M], complex64; row k is user k's beam,
        ``sum_k ||v_k||^2 = power`` per sample, zero on padded users/antennas

    Raises:
        ConfigError: a sample with zero users or more users than ``max_users``.

    Examples:
        >>> model = ICGNN(ICGNNConfig.cpu())
        >>> h = torch.randn(2, 3, 4, dtype=torch.complex64)
        >>> v = model(h, torch.tensor([0.1, 0.01]), torch.ones(2, 3), torch.ones(2, 4))
        >>> tuple(v.shape), round(float(v.abs().square().sum(dim=(1, 2))[0]), 4)
        ((2, 3, 4), 1.0)
    """

    NODE_DIM = 2
    EDGE_DIM = 2

    def __init__(self, config: ICGNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        node_dim = self.NODE_DIM + int(c.load_feature) + int(c.mmse_feature)
        self.embed = _mlp([node_dim, c.hidden, c.hidden])
        self.layers = nn.ModuleList(ICGNNConv(c.hidden, self.EDGE_DIM) for _ in range(c.num_layers))
        self.head = _mlp([c.hidden, c.hidden, 2])
        # Zero logits: equal lambda and power, i.e. training starts from RZF.
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def _check(self, h: Tensor, user_mask: Tensor) -> None:
        if h.ndim != 3 or not h.is_complex():
            raise ConfigError(f"ICGNN: h must be complex [batch, users, antennas]; got {h.dtype} "
                              f"{tuple(h.shape)}")  # fmt: skip
        k = user_mask.sum(-1)
        if bool((k < 1).any()):
            raise ConfigError(f"ICGNN: sample {int((k < 1).nonzero()[0, 0])} has zero users; "
                              "every sample needs at least one")  # fmt: skip
        if bool((k > self.config.max_users).any()):
            raise ConfigError(
                f"ICGNN: a sample has {int(k.max())} users but the model's config allows "
                f"max_users={self.config.max_users}; use a model with --set max_users="
                f"{int(k.max())} --set cg_steps={int(k.max())}"
            )

    @torch.no_grad()
    def mmse_rate(self, g: Tensor, no: Tensor, user_mask: Tensor) -> Tensor:
        """Per-user ``log10(1 + SINR_k)`` of the equal-power MMSE receiver (dual uplink).

        ``1 + SINR_k = 1 / (delta [X_0]_kk)`` with ``delta = K n0 / P`` and
        ``X_0 = (delta I + G)^{-1}`` from ``cg_steps`` CG iterations; 0 on padded users.

        Shapes:
            g: [batch, K, K] Gram matrix ``H H^H`` (padded users: zero rows/columns);
            no: [batch]; user_mask: [batch, K]; output: [batch, K]
        """
        delta = user_mask.sum(-1) * no / self.config.power
        reg = delta[:, None] * user_mask + (1 - user_mask)  # padded users: 1, decoupled
        x = conjugate_gradient(g + torch.diag_embed(reg.to(g.dtype)), self.config.cg_steps)
        mse = delta[:, None] * torch.diagonal(x, dim1=-2, dim2=-1).real
        # The MSE lies in (0, 1]; the clamp only absorbs CG's float32 rounding.
        return -torch.log10(mse.clamp(torch.finfo(mse.dtype).tiny, 1.0)) * user_mask

    def logits(self, h: Tensor, no: Tensor, user_mask: Tensor, antenna_mask: Tensor) -> Tensor:
        """Per-user (lambda, power) logits [batch, K, 2] from the GNN."""
        b, k, _ = h.shape
        g = h @ h.mH  # [B, K, K]
        diag = torch.diagonal(g, dim1=-2, dim2=-1).real  # ||h_k||^2
        snr_k = torch.log10(1.0 + diag / no[:, None])
        feats = [snr_k, (-10.0 * torch.log10(no))[:, None].expand(b, k) / 10.0]
        if self.config.load_feature:
            load = user_mask.sum(-1) / antenna_mask.sum(-1).clamp_min(1)
            feats.append(load[:, None].expand(b, k))
        if self.config.mmse_feature:
            feats.append(self.mmse_rate(g, no, user_mask))
        node = torch.stack(feats, -1)
        safe = diag.clamp_min(torch.finfo(diag.dtype).tiny)
        corr = g.abs().square() / (safe[:, :, None] * safe[:, None, :])
        edge_index = complete_graph(user_mask)
        src, dst = edge_index
        corr_e = corr.reshape(-1)[(src // k) * k * k + (dst % k) * k + (src % k)]
        edge = torch.stack([corr_e, snr_k.reshape(-1)[src]], dim=-1)
        x = self.embed(node.reshape(b * k, -1))
        for layer in self.layers:
            x = layer(x, edge_index, edge)
        return self.head(x).reshape(b, k, 2)

    def forward(self, h: Tensor, no: Tensor, user_mask: Tensor, antenna_mask: Tensor) -> Tensor:
        self._check(h, user_mask)
        um = user_mask.to(h.real.dtype)
        h = h * antenna_mask.to(h.real.dtype)[:, None, :] * um[:, :, None]
        logits = self.logits(h, no.to(h.real.dtype), um, antenna_mask.to(um.dtype))
        neg = torch.finfo(logits.dtype).min
        lam = torch.softmax(logits[..., 0].masked_fill(um == 0, neg), dim=-1)
        share = torch.softmax(logits[..., 1].masked_fill(um == 0, neg), dim=-1) * um
        # A floor on lambda keeps D finite; softmax of bounded logits never hits it in practice.
        reg = no[:, None] / lam.clamp_min(1e-6) * um + (1 - um)  # padded users: 1, decoupled
        a = h @ h.mH + torch.diag_embed(reg.to(h.dtype))
        x = conjugate_gradient(a, self.config.cg_steps)
        d = (h.mH @ x).mT  # [B, K, M]: V = (H^H X)^T, row k the direction of user k
        norm = d.abs().square().sum(-1, keepdim=True).clamp_min(torch.finfo(um.dtype).tiny).sqrt()
        # Clamped before the root: sqrt'(0) is infinite, and 0 * inf would poison the gradient.
        amp = torch.sqrt(self.config.power * share.clamp_min(torch.finfo(share.dtype).tiny)) * um
        return d / norm * amp[..., None]
