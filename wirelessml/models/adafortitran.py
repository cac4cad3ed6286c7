"""AdaFortiTran and FortiTran: hybrid CNN-Transformer OFDM channel estimators.

Guler & Jafarkhani, "AdaFortiTran: An Adaptive Transformer Model for Robust OFDM Channel
Estimation", ICC 2025, https://arxiv.org/abs/2505.09076 (code: BerkIGuler/AdaFortiTran, MIT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

import torch
from torch import Tensor, nn

from wirelessml.config import check_field
from wirelessml.errors import ConfigError
from wirelessml.nn.complex_edge import ChannelsToComplex, ComplexToChannels
from wirelessml.registry import register_model

__all__ = ["AdaFortiTran", "AdaFortiTranConfig", "ConvEnhancer", "FortiTran", "FortiTranConfig"]

PRIOR_NAMES: tuple[str, str, str] = ("snr_db", "delay_spread_ns", "doppler_hz")
# Values each prior adds to every token (reference: adaptive_token_length 6 = 3 priors x 2).
PRIOR_WIDTH = 2

_CPU_SIZE: dict[str, Any] = {  # AdaFortiTranConfig.cpu(); why and how fast: AdaFortiTran
    "patch_subcarriers": 12, "patch_symbols": 2, "d_model": 64, "num_layers": 4,
    "num_heads": 4, "dim_feedforward": 128,
}  # fmt: skip


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _is_int(value: object, low: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _relu_stack(widths: tuple[int, ...], layer: type[nn.Module], **kw: Any) -> list[nn.Module]:
    out: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        out += [nn.ReLU(), layer(a, b, **kw)] if out else [layer(a, b, **kw)]
    return out


@dataclass(frozen=True, kw_only=True)
class AdaFortiTranConfig:
    """Grid, pilots and network size of :class:`AdaFortiTran` (defaults: the paper's).

    Args:
        version: Schema version (default: ``1``).
        num_ofdm_symbols, num_subcarriers: The grid ``T x F`` (default: ``14 x 120``).
        pilot_ofdm_symbols: 0-based pilot symbols; only their number matters (default: ``(2, 11)``).
        num_pilots_per_symbol: Default ``12`` (every 10th subcarrier, reference system config).
        patch_subcarriers, patch_symbols: Must divide the grid (default: ``3 x 2``, 280 tokens).
        d_model, num_layers, num_heads, dim_feedforward, dropout: Transformer encoder
            (default: ``128, 6, 4, 256, 0.1``).
        enhancer_channels: Hidden widths of each ConvEnhancer (default: ``(8, 32, 8)``).
        prior_hidden: Hidden widths of each prior MLP (default: ``(7, 42)``).
        priors: Append SNR / delay-spread / Doppler values to the tokens (default: ``True``).
        prior_mean, prior_std: Normalization of (SNR dB, delay spread ns, Doppler Hz); default:
            moments of uniform 0-25 dB, 25-300 ns, 50-1000 Hz; the trainer sets dataset stats.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed.

    Examples:
        >>> AdaFortiTranConfig.paper().num_tokens, AdaFortiTranConfig.cpu().num_tokens
        (280, 70)
    """

    version: int = 1
    num_ofdm_symbols: int = 14
    num_subcarriers: int = 120
    pilot_ofdm_symbols: tuple[int, ...] = (2, 11)
    num_pilots_per_symbol: int = 12
    patch_subcarriers: int = 3
    patch_symbols: int = 2
    d_model: int = 128
    num_layers: int = 6
    num_heads: int = 4
    dim_feedforward: int = 256  # the reference hard-codes 2 * d_model
    dropout: float = 0.1
    enhancer_channels: tuple[int, ...] = (8, 32, 8)
    prior_hidden: tuple[int, ...] = (7, 42)
    priors: bool = True
    prior_mean: tuple[float, float, float] = (12.5, 162.5, 525.0)
    prior_std: tuple[float, float, float] = (7.2, 79.4, 274.2)

    @classmethod
    def paper(cls, **overrides: Any) -> Self:
        """The published size (958,050 parameters with 24 pilots; FortiTran 883,992)."""
        return cls(**overrides)

    @classmethod
    def cpu(cls, **overrides: Any) -> Self:
        """Trains >10x faster on a 2-core CPU: patch 12 x 2 (70 tokens), d_model 64,
        4 layers, 4 heads, feed-forward 128 (see :class:`AdaFortiTran`)."""
        return cls(**{**_CPU_SIZE, **overrides})

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        self._check_sizes()
        self._check_grid()
        self._check_priors()

    def _check_sizes(self) -> None:
        for name in ("num_ofdm_symbols", "num_subcarriers", "num_pilots_per_symbol",
                     "patch_subcarriers", "patch_symbols", "d_model", "num_layers", "num_heads",
                     "dim_feedforward"):  # fmt: skip
            value = getattr(self, name)
            check_field(_is_int(value), self, name, value, "an integer >= 1")
        check_field(
            self.d_model % self.num_heads == 0, self, "num_heads", self.num_heads,
            f"a divisor of d_model={self.d_model}: {_divisors(self.d_model)}",
        )  # fmt: skip
        check_field(
            isinstance(self.dropout, int | float) and 0.0 <= self.dropout < 1.0,
            self, "dropout", self.dropout, "a probability in [0, 1)",
        )  # fmt: skip
        for name in ("enhancer_channels", "prior_hidden"):
            value = getattr(self, name)
            check_field(
                isinstance(value, tuple) and len(value) >= 1 and all(_is_int(v) for v in value),
                self, name, value, "a non-empty tuple of integers >= 1",
            )  # fmt: skip

    def _check_grid(self) -> None:
        syms = self.pilot_ofdm_symbols
        check_field(
            isinstance(syms, tuple) and len(syms) >= 1 and list(syms) == sorted(set(syms))
            and all(_is_int(s, 0) and s < self.num_ofdm_symbols for s in syms),
            self, "pilot_ofdm_symbols", syms,
            f"distinct increasing OFDM symbol indices in [0, {self.num_ofdm_symbols - 1}]",
        )  # fmt: skip
        check_field(
            self.num_pilots_per_symbol <= self.num_subcarriers,
            self, "num_pilots_per_symbol", self.num_pilots_per_symbol,
            f"at most num_subcarriers={self.num_subcarriers}",
        )  # fmt: skip
        for name, total in (("patch_subcarriers", "num_subcarriers"),
                            ("patch_symbols", "num_ofdm_symbols")):  # fmt: skip
            value, n = getattr(self, name), getattr(self, total)
            check_field(
                n % value == 0, self, name, value,
                f"a divisor of {total}={n} (patches tile the grid): {_divisors(n)}",
            )  # fmt: skip

    def _check_priors(self) -> None:
        check_field(isinstance(self.priors, bool), self, "priors", self.priors, "True or False")
        for name, low in (("prior_mean", -math.inf), ("prior_std", 0.0)):
            v = getattr(self, name)
            check_field(
                isinstance(v, tuple) and len(v) == 3
                and all(isinstance(x, int | float) and math.isfinite(x) and x > low for x in v),
                self, name, v, f"3 finite numbers{' > 0' * (low == 0)} (SNR dB, DS ns, Doppler Hz)",
            )  # fmt: skip

    @property
    def num_pilots(self) -> int:
        """``P``: real inputs per network pass (pilot symbols x pilots per symbol)."""
        return len(self.pilot_ofdm_symbols) * self.num_pilots_per_symbol

    @property
    def patch_grid(self) -> tuple[int, int]:
        t, f = self.num_ofdm_symbols, self.num_subcarriers
        return t // self.patch_symbols, f // self.patch_subcarriers

    @property
    def num_tokens(self) -> int:
        return self.patch_grid[0] * self.patch_grid[1]

    @property
    def patch_length(self) -> int:
        return self.patch_subcarriers * self.patch_symbols

    @property
    def token_dim(self) -> int:
        """Patch length plus ``3 * PRIOR_WIDTH`` when priors are on."""
        return self.patch_length + (len(PRIOR_NAMES) * PRIOR_WIDTH if self.priors else 0)


@dataclass(frozen=True, kw_only=True)
class FortiTranConfig(AdaFortiTranConfig):
    """:class:`AdaFortiTranConfig` without priors (FortiTran); ``priors`` must stay ``False``.

    Examples:
        >>> FortiTranConfig.cpu().token_dim
        24
    """

    priors: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = "False (FortiTran has no priors; use AdaFortiTranConfig for priors=True)"
        check_field(self.priors is False, self, "priors", self.priors, allowed)


class ConvEnhancer(nn.Sequential):
    """3x3 convolutions ``1 → channels… → 1``, ReLU between, padding 1 (reference: 8, 32, 8).

    Shapes: ``x: [N, 1, H, W]`` float32 → ``[N, 1, H, W]`` float32.
    """

    def __init__(self, *, channels: tuple[int, ...]) -> None:
        super().__init__(*_relu_stack((1, *channels, 1), nn.Conv2d, kernel_size=3, padding=1))


class _PriorTokens(nn.Module):
    """One MLP ``1 → hidden… → 2L`` per prior, each viewed ``[N, L, 2]``, concatenated."""

    def __init__(self, *, hidden: tuple[int, ...], num_tokens: int) -> None:
        super().__init__()
        self.num_tokens = num_tokens
        widths = (1, *hidden, num_tokens * PRIOR_WIDTH)
        self.mlps = nn.ModuleList(
            nn.Sequential(*_relu_stack(widths, nn.Linear)) for _ in PRIOR_NAMES
        )

    def forward(self, priors: Tensor) -> Tensor:
        """``[N, 3]`` normalized → ``[N, L, 3·PRIOR_WIDTH]``."""
        parts = [mlp(priors[:, i : i + 1]) for i, mlp in enumerate(self.mlps)]
        return torch.cat([x.reshape(-1, self.num_tokens, PRIOR_WIDTH) for x in parts], dim=2)


@register_model("adafortitran", AdaFortiTranConfig, "CNN-Transformer OFDM estimator with priors")
class AdaFortiTran(nn.Module):
    """AdaFortiTran, an adaptive CNN-Transformer OFDM channel estimator.

    Guler & Jafarkhani, ICC 2025, https://arxiv.org/abs/2505.09076. Maps LS estimates at the
    pilots to the channel on the whole grid, conditioned on SNR, delay spread and Doppler
    ("priors"). With ``config.priors=False`` it is FortiTran (:class:`FortiTran`).

    Re and Im of every receive antenna go separately through one shared real network
    :meth:`forward_real` (folded into the batch, ``N = batch·num_rx_ant·2``), recombined at
    the end. With ``T x F`` the grid and ``L`` tokens, the real network is:

    1. Linear ``P → T·F`` on the flattened pilots, viewed ``1 x T x F``; ConvEnhancer (3x3
       convs ``1→8→32→8→1``, ReLU between) → ``e``.
    2. Non-overlapping patches of ``e`` (``nn.Unfold`` layout) → ``L`` tokens.
    3. Priors only: three MLPs ``1→7→42→2L`` (ReLU) on normalized SNR, delay spread and
       Doppler, each viewed ``L x 2``; concatenated (``L x 6``) and appended to the tokens.
    4. Linear ``→ d_model`` + learned positional embedding (trunc-normal, std 0.02), post-norm
       GELU ``nn.TransformerEncoder``, Linear ``d_model →`` patch length.
    5. Back to ``T x F`` (``nn.Fold`` layout), plus ``e`` (residual), second ConvEnhancer.

    Sizes with 24 pilots; training = forward+backward, batch 64 frames, 2 threads, median
    step, on this repository's 2-core CPU: ``paper()`` 280 tokens, 958,050 parameters
    (FortiTran 883,992), 6.5 frames/s (FortiTran 6.6); ``cpu()`` 70 tokens, 212,624
    (193,130), 111 frames/s (112): 17x, also 17x on one thread (4.5 → 77.5). ``cpu()``
    widens patches to 12 x 2 (12 divides every NR grid, 12 subcarriers per resource block)
    and narrows the encoder (d_model 64, 4 layers, feed-forward 128). Attention (unfused on
    CPU with dropout) dominates, so tokens are the lever: 140 tokens (6 x 2) gave only ~7x.

    Differences from the reference, and why:

    - Priors are normalized, ``(x - prior_mean) / prior_std`` (buffers from the config); the
      reference feeds raw dB / ns / Hz (up to 1000) into the MLPs.
    - The positional embedding has ``L`` rows; the reference allocates 512 and uses 280,
      hence its 29,696 more parameters (987,746 / 913,688).
    - Grid ``[num_ofdm_symbols, num_subcarriers]`` (Sionna's order), pilots flattened
      symbol-major: the reference's transpose, i.e. a relabelling of the weights.
    - Patches are cut by reshapes equal to ``nn.Unfold`` / ``nn.Fold`` (tested): CPU
      ``im2col`` with autograd took ~1 s per call at the paper's batch; reshapes also
      export to ONNX as plain Reshape/Transpose. ``dim_feedforward`` is a field (ref.: 2·d).

    Args:
        config: Grid, pilots and size (:class:`AdaFortiTranConfig`).

    Shapes:
        - ``h_ls: [batch, num_rx_ant, num_pilot_symbols, num_pilots_per_symbol]``, complex64
        - ``snr_db, delay_spread_ns, doppler_hz: [batch]``, float32 (raw dB, ns, Hz)
        - output ``h_hat: [batch, num_rx_ant, num_ofdm_symbols, num_subcarriers]``, complex64

    Examples:
        >>> model = AdaFortiTran(AdaFortiTranConfig.cpu()).eval()
        >>> h_ls = torch.randn(4, 2, 2, 12, dtype=torch.complex64)
        >>> prior = torch.full((4,), 10.0)
        >>> model(h_ls, prior, prior * 20, prior * 50).shape
        torch.Size([4, 2, 14, 120])
    """

    real_core_inputs: tuple[str, ...] = ("pilots", "priors")
    """The float inputs of :meth:`forward_real`, the real core that compression works on."""

    def __init__(self, config: AdaFortiTranConfig) -> None:
        super().__init__()
        c = self.config = config
        self.to_channels = ComplexToChannels(dim=2)  # [b, r, S, K] -> [b, r, 2, S, K]
        self.to_complex = ChannelsToComplex(dim=2)
        self.upsample = nn.Linear(c.num_pilots, c.num_ofdm_symbols * c.num_subcarriers)
        self.enhancer_in = ConvEnhancer(channels=c.enhancer_channels)
        hidden, tokens = c.prior_hidden, c.num_tokens
        self.prior_tokens = _PriorTokens(hidden=hidden, num_tokens=tokens) if c.priors else None
        self.embed = nn.Linear(c.token_dim, c.d_model)
        self.pos_embedding = nn.Parameter(torch.zeros(1, c.num_tokens, c.d_model))
        nn.init.trunc_normal_(self.pos_embedding, std=0.02)
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.num_heads, c.dim_feedforward, c.dropout,
            activation="gelu", batch_first=True, norm_first=False,
        )  # fmt: skip
        # No padding masks, so the nested-tensor fast path has nothing to gain.
        self.encoder = nn.TransformerEncoder(layer, c.num_layers, enable_nested_tensor=False)
        self.head = nn.Linear(c.d_model, c.patch_length)
        self.enhancer_out = ConvEnhancer(channels=c.enhancer_channels)
        self.register_buffer("prior_mean", torch.tensor(c.prior_mean, dtype=torch.float32))
        self.register_buffer("prior_std", torch.tensor(c.prior_std, dtype=torch.float32))

    def normalize_priors(
        self, snr_db: Tensor, delay_spread_ns: Tensor, doppler_hz: Tensor
    ) -> Tensor:
        """Stack the raw priors (``[batch]`` each) into ``[batch, 3]`` float32, normalized."""
        raw = torch.stack([snr_db, delay_spread_ns, doppler_hz], dim=1).to(self.prior_mean)
        return (raw - self.prior_mean) / self.prior_std

    def forward_real(self, pilots: Tensor, priors: Tensor | None = None) -> Tensor:
        """The shared real network: what ONNX export and quantization see.

        Shapes:
            - ``pilots: [N, P]``, float32; ``P = num_pilot_symbols·num_pilots_per_symbol``
              flattened symbol-major; ``N`` counts (batch, num_rx_ant, {Re, Im})
            - ``priors: [N, 3]``, float32, normalized (:meth:`normalize_priors`); ignored
              (may be ``None``) when ``config.priors`` is False
            - output ``[N, num_ofdm_symbols, num_subcarriers]``, float32
        """
        c = self.config
        u = self.upsample(pilots).reshape(-1, 1, c.num_ofdm_symbols, c.num_subcarriers)
        e = self.enhancer_in(u)
        tokens = self._patchify(e)  # [N, L, patch_length]
        if self.prior_tokens is not None:
            if priors is None:
                raise ValueError("AdaFortiTran.forward_real needs priors [N, 3] (priors=True)")
            tokens = torch.cat([tokens, self.prior_tokens(priors)], dim=2)
        z = self.encoder(self.embed(tokens) + self.pos_embedding)
        y = self._unpatchify(self.head(z))  # [N, 1, T, F]
        return self.enhancer_out(e + y).squeeze(1)

    def real_core_example(self, n: int = 4) -> tuple[Tensor, Tensor]:
        """Example inputs of :meth:`forward_real` (zeros ``[n, P]``, ``[n, 3]``) for tracing."""
        pilots = torch.zeros(n, self.config.num_pilots, device=self.prior_mean.device)
        return pilots, torch.zeros(n, 3, device=self.prior_mean.device)

    def _patchify(self, x: Tensor) -> Tensor:
        """``[N, 1, T, F] → [N, L, patch_length]``, as ``nn.Unfold(patch, stride=patch).mT``."""
        (t, f), c = self.config.patch_grid, self.config
        x = x.reshape(-1, t, c.patch_symbols, f, c.patch_subcarriers).permute(0, 1, 3, 2, 4)
        return x.reshape(-1, t * f, c.patch_length)

    def _unpatchify(self, tokens: Tensor) -> Tensor:
        """``[N, L, patch_length] → [N, 1, T, F]``: the inverse, ``nn.Fold``."""
        (t, f), c = self.config.patch_grid, self.config
        x = tokens.reshape(-1, t, f, c.patch_symbols, c.patch_subcarriers).permute(0, 1, 3, 2, 4)
        return x.reshape(-1, 1, c.num_ofdm_symbols, c.num_subcarriers)

    def forward(
        self,
        h_ls: Tensor,
        snr_db: Tensor | None = None,
        delay_spread_ns: Tensor | None = None,
        doppler_hz: Tensor | None = None,
    ) -> Tensor:
        """Estimate the channel on the grid; see the class docstring for shapes."""
        raw = (snr_db, delay_spread_ns, doppler_hz)
        self._check_inputs(h_ls, raw)
        batch, num_rx_ant = h_ls.shape[:2]
        pilots = self.to_channels(h_ls).reshape(-1, self.config.num_pilots)  # [b·r·2, P]
        priors = None
        if self.prior_tokens is not None:
            # Re and Im of every antenna see the same conditions.
            priors = self.normalize_priors(*raw)[:, None, None, :]  # type: ignore[arg-type]
            priors = priors.expand(batch, num_rx_ant, 2, 3).reshape(-1, 3)
        h = self.forward_real(pilots, priors)
        return self.to_complex(h.reshape(batch, num_rx_ant, 2, *h.shape[1:]))

    def _check_inputs(self, h_ls: Tensor, raw: tuple[Tensor | None, ...]) -> None:
        name, c = type(self).__name__, self.config
        want = (len(c.pilot_ofdm_symbols), c.num_pilots_per_symbol)
        if not h_ls.is_complex() or h_ls.ndim != 4 or tuple(h_ls.shape[2:]) != want:
            raise ValueError(
                f"{name} expects h_ls [batch, num_rx_ant, {want[0]}, {want[1]}] complex64; "
                f"got {tuple(h_ls.shape)} {h_ls.dtype}"
            )
        for prior, value in zip(PRIOR_NAMES, raw, strict=True):
            if self.prior_tokens is not None and (value is None or value.shape != h_ls.shape[:1]):
                got = None if value is None else tuple(value.shape)
                raise ValueError(f"{name} needs {prior} of shape [{len(h_ls)}]; got {got}")


@register_model("fortitran", FortiTranConfig, "AdaFortiTran without the SNR/DS/Doppler priors")
class FortiTran(AdaFortiTran):
    """FortiTran, https://arxiv.org/abs/2505.09076: :class:`AdaFortiTran` minus priors (ignored).

    Examples:
        >>> model = FortiTran(FortiTranConfig.cpu()).eval()
        >>> model(torch.randn(3, 1, 2, 12, dtype=torch.complex64)).shape
        torch.Size([3, 1, 14, 120])
    """

    def __init__(self, config: FortiTranConfig) -> None:
        if config.priors:
            raise ConfigError("FortiTran got priors=True: pass a FortiTranConfig (or AdaFortiTran)")
        super().__init__(config)
