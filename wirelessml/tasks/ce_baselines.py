"""Classical channel-estimation baselines, all Sionna's: LS + linear interpolation and LMMSE.

- ``ls``: :class:`~sionna.phy.ofdm.LSChannelEstimator` with ``interpolation_type="lin"``.
- ``lmmse-genie``: :class:`~sionna.phy.ofdm.LMMSEChannelEstimator` (``order="f-t"``) with
  the time/frequency covariances of each sample's true delay spread and Doppler
  (:func:`~sionna.phy.ofdm.tdl_time_cov_mat`, :func:`~sionna.phy.ofdm.tdl_freq_cov_mat`)
  and its noise variance ``no``.
- ``lmmse-robust``: one covariance design for the largest delay spread and Doppler the
  dataset's config allows, with each sample's ``no``.

Every receive antenna is estimated on its own (no spatial covariance). For fixed
(design, ``no``) each estimator is linear in the received pilots, so its matrix
:math:`W \\in \\mathbb{C}^{K \\times P}` (``K = num_ofdm_symbols * fft_size``, ``P`` pilots)
is extracted once by feeding Sionna the ``P`` unit vectors, cached, and applied as

.. math::
    \\hat{h} = W y_{\\text{pilots}}

Sionna rebuilds its filters on every call, at a cost proportional to the number of
frames (samples x receive antennas), so extracting ``W`` costs as much as estimating
``P`` frames directly, and it pays once a condition recurs: in grid-mode files every
condition recurs, in random-mode files none does (each sample has its own delay spread,
Doppler and ``no``). The default policy ``cache="auto"`` therefore calls Sionna directly
on the frames of a condition until ``P`` frames of it have been seen, then extracts and
caches ``W`` (rent, then buy: at most about twice the cost of the better choice in
hindsight). Both paths give the same estimate up to float32 rounding.

This module imports Sionna lazily (only when a baseline or grid is built), so the task
package keeps importing without it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch

from wirelessml.config import config_from_dict
from wirelessml.datasets import DatasetInfo, read_arrays, require_fields
from wirelessml.errors import ConfigError
from wirelessml.simulators.ofdm_config import SPEED_OF_LIGHT, OFDMConfig

__all__ = [
    "BASELINES",
    "LMMSE_ORDER",
    "CEBaseline",
    "CachePolicy",
    "SionnaLinearEstimator",
    "build_baseline",
    "dataset_config",
    "resource_grid_for",
]

BASELINES: tuple[str, ...] = ("ls", "lmmse-genie", "lmmse-robust")
"""Names accepted by :func:`build_baseline`."""


LMMSE_ORDER = "f-t"
"""Sionna's LMMSE filters across subcarriers first, then across OFDM symbols. With the
default comb (pilots on symbols 2 and 11 only) the time step is the hard one: "t-f" first
interpolates 14 symbols from 2 noisy pilots and passes the large, diagonal-approximated
error variances to the frequency step, and loses up to 3.7 dB at 1000 Hz Doppler (worse
than LS there); "f-t" smooths the pilot symbols first and stays within 0.4 dB of the
exact 2-D Kronecker LMMSE on every condition of the test grid (tests check genie <= LS)."""

_MAX_ESTIMATORS = 16
"""Sionna estimators kept alive at once (each holds its filters' buffers, ~2 MB at 14x120)."""

_MAX_FRAMES_PER_CALL = 48
"""Frames per direct Sionna call: its filters take ~2 MB per frame at 14x120."""

CachePolicy = Literal["auto", "always", "never"]


@runtime_checkable
class CEBaseline(Protocol):
    """A channel-estimation baseline: ``h_hat = baseline(batch)``.

    Shapes:
        batch["y_pilots"]: [batch, num_rx_ant, num_pilot_symbols, num_pilots_per_symbol], complex64
        batch["no"], batch["snr_db"], batch["delay_spread_ns"], batch["doppler_hz"]: [batch], float32
        h_hat: [batch, num_rx_ant, num_ofdm_symbols, fft_size], complex64, on the batch's device
    """

    name: str

    def __call__(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor: ...


def dataset_config(info: DatasetInfo) -> OFDMConfig:
    """The :class:`OFDMConfig` an ``ofdm`` dataset was simulated with.

    Raises:
        DatasetError: The file is not ``ofdm`` data or lacks the pilot fields.
    """
    require_fields(info, ("y_pilots", "x_pilots", "no"), family="ofdm")
    return config_from_dict(OFDMConfig, info.config["_data"])


def resource_grid_for(info: DatasetInfo, device: str | None = None) -> Any:
    """Sionna ``ResourceGrid`` (one transmitter, one stream) matching an ``ofdm`` dataset.

    Its ``PilotPattern`` has the file's pilot positions (root attributes
    ``pilot_ofdm_symbols`` x ``pilot_subcarriers``) and pilots (``x_pilots`` of sample 0;
    the pilots are fixed per file).

    Args:
        info: The dataset's :func:`~wirelessml.datasets.read_info`.
        device: Torch device (default ``None``: Sionna's default device).

    Returns:
        A :class:`sionna.phy.ofdm.ResourceGrid`.

    Examples:
        >>> rg = resource_grid_for(read_info("test.h5"))  # doctest: +SKIP
        >>> rg.num_ofdm_symbols, rg.fft_size, rg.pilot_pattern.num_pilot_symbols  # doctest: +SKIP
        (14, 120, 24)
    """
    from sionna.phy.ofdm import PilotPattern, ResourceGrid

    cfg = dataset_config(info)
    sym, sc = _pilot_positions(info)
    x_p = read_arrays(info.path, ["x_pilots"], start=0, stop=1)["x_pilots"][0]
    mask = np.zeros((1, 1, cfg.num_ofdm_symbols, cfg.fft_size), dtype=bool)
    mask[0, 0, sym[:, None], sc[None, :]] = True
    # Sionna orders a pattern's pilots along the flattened (symbol, subcarrier) mask,
    # i.e. symbol-major, which is the row-major order of x_pilots [P_t, P_f].
    pattern = PilotPattern(mask, x_p.reshape(1, 1, -1), device=device)
    return ResourceGrid(num_ofdm_symbols=cfg.num_ofdm_symbols, fft_size=cfg.fft_size,
                        subcarrier_spacing=cfg.subcarrier_spacing_hz,
                        cyclic_prefix_length=cfg.cyclic_prefix_length, pilot_pattern=pattern,
                        device=device)  # fmt: skip


class SionnaLinearEstimator:
    """A Sionna channel estimator on a dataset's received pilots, as cached linear maps.

    Samples are grouped by condition: their design key (what the Sionna estimator is
    built from) and, if ``uses_no``, their ``no``. A condition's matrix ``W`` is extracted
    by one Sionna call on the ``P`` unit pilot vectors, cached and applied as
    ``W @ y_pilots``; otherwise Sionna is called on the frames themselves.

    Args:
        name: Baseline name.
        resource_grid: From :func:`resource_grid_for`.
        make_estimator: ``design key -> Sionna estimator`` taking ``(y, no)``.
        design_keys: ``batch -> one hashable design key per sample``.
        uses_no: Whether the estimate depends on ``no`` (LMMSE) or not (LS).
        cache: ``"auto"``: call Sionna directly until a condition has had ``P`` frames,
            then cache its matrix; ``"always"``: cache at first use; ``"never"``.
        device: Torch device of the Sionna blocks and the cached matrices.

    Shapes:
        y_pilots: [batch, num_rx_ant, num_pilot_symbols, num_pilots_per_symbol], complex64
        no: [batch], float32
        output: [batch, num_rx_ant, num_ofdm_symbols, fft_size], complex64
    """

    def __init__(
        self,
        *,
        name: str,
        resource_grid: Any,
        make_estimator: Callable[[Hashable], Any],
        design_keys: Callable[[Mapping[str, torch.Tensor]], list[Hashable]],
        uses_no: bool,
        cache: CachePolicy = "auto",
        device: str,
    ) -> None:
        self.name = name
        self.cache = cache
        self.device = torch.device(device)
        self._make_estimator = make_estimator
        self._design_keys = design_keys
        self._uses_no = uses_no
        self._shape = (resource_grid.num_ofdm_symbols, resource_grid.fft_size)
        mask = resource_grid.pilot_pattern.mask[0, 0].to(torch.bool).flatten()
        # Flat (symbol * fft_size + subcarrier) index of each pilot, in Sionna's order.
        self._pilot_re = torch.nonzero(mask).flatten().to(self.device)
        self._estimators: dict[Hashable, Any] = {}
        self._matrices: dict[Hashable, torch.Tensor] = {}
        self._frames_seen: dict[Hashable, int] = {}  # per uncached condition ("auto")

    @property
    def num_pilots(self) -> int:
        return int(self._pilot_re.numel())

    @property
    def num_cached(self) -> int:
        """Number of cached matrices (one per condition)."""
        return len(self._matrices)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, cache={self.cache!r}, "
                f"num_cached={self.num_cached})")  # fmt: skip

    @torch.no_grad()
    def __call__(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        y = batch["y_pilots"]
        out_device, (b, rx) = y.device, y.shape[:2]
        y = y.to(self.device, torch.complex64).reshape(b, rx, -1)
        no = batch["no"].to(self.device, torch.float32).reshape(b)
        no_keys = no.tolist() if self._uses_no else [1.0] * b
        groups: dict[Hashable, list[int]] = {}
        for i, key in enumerate(zip(self._design_keys(batch), no_keys, strict=True)):
            groups.setdefault(key, []).append(i)
        h_hat = torch.empty(b, rx, self._shape[0] * self._shape[1], dtype=torch.complex64,
                            device=self.device)  # fmt: skip
        direct: dict[Hashable, list[int]] = {}  # design -> rows, whatever their no
        for key, rows in groups.items():
            if self._use_matrix(key, len(rows) * rx):
                idx = torch.tensor(rows, device=self.device)
                h_hat[idx] = y[idx] @ self.matrix(*key).T
            else:
                direct.setdefault(key[0], []).extend(rows)
        step = max(1, _MAX_FRAMES_PER_CALL // rx)
        for design, rows in direct.items():
            for start in range(0, len(rows), step):
                idx = torch.tensor(rows[start : start + step], device=self.device)
                h_hat[idx] = self._sionna(design, y[idx], no[idx]).flatten(2)
        return h_hat.reshape(b, rx, *self._shape).to(out_device)

    def _use_matrix(self, key: Hashable, frames: int) -> bool:
        """Whether to apply the condition's matrix (extracting it if the policy says so)."""
        if key in self._matrices or self.cache == "always":
            return True
        if self.cache == "never":
            return False
        seen = self._frames_seen.pop(key, 0) + frames
        if seen >= self.num_pilots:
            return True
        if len(self._frames_seen) >= 1_000_000:  # random-mode files never repeat a condition
            self._frames_seen.clear()
        self._frames_seen[key] = seen
        return False

    def matrix(self, design: Hashable, no: float = 1.0) -> torch.Tensor:
        """The cached linear map ``W`` of one condition, extracted on first use.

        Args:
            design: The design key (e.g. ``(delay_spread_ns, doppler_hz)``).
            no: Noise variance (ignored, and not part of the key, if not ``uses_no``).

        Shapes:
            output: [num_ofdm_symbols * fft_size, num_pilots], complex64
        """
        key = (design, float(no) if self._uses_no else 1.0)
        if key not in self._matrices:
            p = self.num_pilots
            unit = torch.eye(p, dtype=torch.complex64, device=self.device)[:, None, :]
            no_p = torch.full((p,), key[1], dtype=torch.float32, device=self.device)
            h = self._sionna(design, unit, no_p)  # [P, 1, S, F]: column p of W per row
            self._matrices[key] = h.reshape(p, -1).T.contiguous()
        return self._matrices[key]

    def _sionna(self, design: Hashable, y: torch.Tensor, no: torch.Tensor) -> torch.Tensor:
        """Sionna's estimate from pilots [n, rx, P] placed on an otherwise empty grid."""
        n, rx, _ = y.shape
        grid = y.new_zeros(n, 1, rx, self._shape[0] * self._shape[1])
        grid[..., self._pilot_re] = y[:, None]
        h, _ = self._estimator(design)(grid.reshape(n, 1, rx, *self._shape), no)
        return h[:, 0, :, 0, 0]  # [n, rx, S, F]

    def _estimator(self, design: Hashable) -> Any:
        if design not in self._estimators:
            if len(self._estimators) >= _MAX_ESTIMATORS:
                self._estimators.pop(next(iter(self._estimators)))  # oldest first
            self._estimators[design] = self._make_estimator(design)
        return self._estimators[design]


def build_baseline(
    name: str, info: DatasetInfo, device: str | None = None, *, cache: CachePolicy = "auto"
) -> SionnaLinearEstimator:
    """Build the baseline ``name`` for an ``ofdm`` dataset.

    Args:
        name: One of :data:`BASELINES`.
        info: The dataset's :func:`~wirelessml.datasets.read_info`.
        device: Torch device of the Sionna blocks (default ``None``: Sionna's default).
        cache: When to cache one matrix per condition (default ``"auto"``; see
            :class:`SionnaLinearEstimator`).

    Raises:
        ConfigError: Unknown name, or an LMMSE baseline for a non-TDL dataset.
        DatasetError: The file is not ``ofdm`` data.

    Examples:
        >>> ls = build_baseline("ls", read_info("test.h5"))  # doctest: +SKIP
        >>> ls({"y_pilots": y_pilots, "no": no}).shape  # doctest: +SKIP
        torch.Size([8, 1, 14, 120])
    """
    if cache not in ("auto", "always", "never"):
        raise ConfigError(f"cache={cache!r} is not allowed: expected 'auto', 'always' or 'never'")
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of: {', '.join(BASELINES)}")
    cfg = dataset_config(info)
    if name != "ls" and cfg.channel_family != "tdl":
        raise ConfigError(
            f"baseline {name!r} needs a TDL dataset (its covariances come from Sionna's "
            f"tdl_time_cov_mat/tdl_freq_cov_mat) but {info.path} uses channel model "
            f"{cfg.channel_model!r}; use 'ls' for it"
        )
    from sionna.phy import config as sionna_config

    device = device or sionna_config.device
    rg = resource_grid_for(info, device=device)
    common = {"name": name, "resource_grid": rg, "device": device, "cache": cache}
    if name == "ls":
        return SionnaLinearEstimator(**common, make_estimator=_ls_maker(rg, device),
                                     design_keys=_constant(None), uses_no=False)  # fmt: skip
    if name == "lmmse-genie":
        design_keys = _true_conditions
    else:
        grid = cfg.mode == "grid"
        ds = max(cfg.delay_spread_ns_grid) if grid else cfg.delay_spread_ns[1]
        fd = max(cfg.doppler_hz_grid) if grid else cfg.doppler_hz[1]
        design_keys = _constant((float(ds), float(fd)))
    return SionnaLinearEstimator(**common, make_estimator=_lmmse_maker(cfg, rg, device),
                                 design_keys=design_keys, uses_no=True)  # fmt: skip


def _pilot_positions(info: DatasetInfo) -> tuple[np.ndarray, np.ndarray]:
    sym = np.asarray(info.attrs["pilot_ofdm_symbols"], dtype=np.int64)
    sc = np.asarray(info.attrs["pilot_subcarriers"], dtype=np.int64)
    return sym, sc


def _constant(key: Hashable) -> Callable[[Mapping[str, torch.Tensor]], list[Hashable]]:
    def keys(batch: Mapping[str, torch.Tensor]) -> list[Hashable]:
        return [key] * batch["y_pilots"].shape[0]

    return keys


def _true_conditions(batch: Mapping[str, torch.Tensor]) -> list[Hashable]:
    """Each sample's exact (delay_spread_ns, doppler_hz), as stored (float32 values)."""
    ds = batch["delay_spread_ns"].reshape(-1).tolist()
    fd = batch["doppler_hz"].reshape(-1).tolist()
    return list(zip(ds, fd, strict=True))


def _ls_maker(rg: Any, device: str) -> Callable[[Hashable], Any]:
    from sionna.phy.ofdm import LSChannelEstimator

    def make(_: Hashable) -> Any:
        return LSChannelEstimator(rg, interpolation_type="lin", device=device)

    return make


def _lmmse_maker(cfg: OFDMConfig, rg: Any, device: str) -> Callable[[Hashable], Any]:
    """``(delay_spread_ns, doppler_hz) -> LMMSEChannelEstimator`` with TDL covariances."""
    from sionna.phy.ofdm import LMMSEChannelEstimator, tdl_freq_cov_mat, tdl_time_cov_mat

    model = cfg.channel_model.split("-")[1].upper()

    def make(design: Hashable) -> Any:
        ds_ns, fd_hz = design  # type: ignore[misc]
        speed = fd_hz * SPEED_OF_LIGHT / cfg.carrier_frequency_hz
        cov_t = tdl_time_cov_mat(model, speed, cfg.carrier_frequency_hz,
                                 cfg.ofdm_symbol_duration_s, cfg.num_ofdm_symbols,
                                 device=device)  # fmt: skip
        cov_f = tdl_freq_cov_mat(model, cfg.subcarrier_spacing_hz, cfg.fft_size, ds_ns * 1e-9,
                                 device=device)  # fmt: skip
        return LMMSEChannelEstimator(rg, cov_t, cov_f, order=LMMSE_ORDER, device=device)

    return make
