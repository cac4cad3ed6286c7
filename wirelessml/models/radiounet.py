"""Radio-map U-Nets: RadioUNet (RadioWNet, two chained U-Nets) and a Geo2SigMap-style cascade.

- RadioUNet: Levie et al., "RadioUNet: Fast Radio Map Estimation with Convolutional
  Neural Networks", IEEE TWC 2021, https://arxiv.org/abs/1911.09002. The "W" variant
  chains two U-Nets; the second sees the inputs and the first's output.
- Geo2SigMap: Li et al., DySPAN 2024, https://arxiv.org/abs/2312.14303. U-Net 1 maps
  [buildings, TX] to path gain as a residual on the 3GPP UMa map; U-Net 2 refines it with
  the sparse measurement map.

Both use the plain U-Net (two 3x3 conv + BN + ReLU per level, max-pool down, transposed
conv up, skip concatenation). Sizes: ``paper()`` is the reference's 64-128-256-512-1024
channels (about 31 M parameters per U-Net, days of training on a 2-core CPU);
``cpu()`` is 16-24-32-48-64-96 (about 0.54 M per U-Net), trainable in an hour or two. It
keeps six levels (five poolings) so that a cell 128 cells away from the TX still sees it:
the reference RadioUNet pools a 256-cell map down to one cell for the same reason.

Inputs are scaled at the edge: heights by ``height_scale``, dB values by
``(x - db_offset) / db_scale`` (set from the training data by the task).

``geometry_inputs`` (beyond the references; on in ``cpu()``, off in ``paper()``) adds two
channels that each network computes from its own inputs, without learning
(:mod:`wirelessml.models.radiomap_geometry`): the line-of-sight map over the building
heights and the free-space path gain. A narrow U-Net trained for an hour does not learn
ray geometry over 128 cells by itself; these maps give it the first-order answer, and it
learns the reflections and the rest. ``reflection_input`` (off by default and in
``paper()``, on in ``cpu()``) adds a third computed channel, the first-order reflection map
(:func:`~wirelessml.models.radiomap_geometry.first_order_reflection`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

import torch
from torch import nn

from wirelessml.config import check_field
from wirelessml.models.radiomap_geometry import (
    first_order_reflection,
    free_space_path_gain_db,
    line_of_sight,
    tx_cell,
)
from wirelessml.registry import register_model

__all__ = ["Geo2SigMapCascade", "Geo2SigMapConfig", "RadioUNet", "RadioUNetConfig", "UNet",
           "uma_path_gain_db"]  # fmt: skip

SPEED_OF_LIGHT = 299_792_458.0


def _check_common(cfg: object) -> None:
    ch = cfg.channels  # type: ignore[attr-defined]
    check_field(isinstance(ch, tuple) and 2 <= len(ch) <= 6
                and all(isinstance(c, int) and c >= 1 for c in ch), cfg, "channels", ch,
                "2 to 6 positive channel counts")  # fmt: skip
    for name in ("db_scale", "height_scale"):
        value = getattr(cfg, name)
        check_field(isinstance(value, int | float) and value > 0, cfg, name, value, "a number > 0")
    n = cfg.num_measurements  # type: ignore[attr-defined]
    check_field(isinstance(n, int) and n >= 0, cfg, "num_measurements", n, "an integer >= 0")
    g = cfg.geometry_inputs  # type: ignore[attr-defined]
    check_field(isinstance(g, bool), cfg, "geometry_inputs", g, "true or false")
    r = cfg.reflection_input  # type: ignore[attr-defined]
    check_field(isinstance(r, bool), cfg, "reflection_input", r, "true or false")


@dataclass(frozen=True, kw_only=True)
class RadioUNetConfig:
    """RadioWNet: two chained U-Nets on [building height, TX map].

    Args:
        channels: Channels per U-Net level (default: ``cpu()`` size 16-24-32-48-64-96).
        num_measurements: Sparse measurements the task samples per map (default 200;
            this model does not read them, they are excluded from its metric).
        geometry_inputs: Add the line-of-sight and free-space path-gain maps as input
            channels (default False, the reference's inputs; ``cpu()`` turns it on).
        reflection_input: Add the first-order reflection map as an input channel
            (default False; ``cpu()`` turns it on).
        pg_floor_db, db_offset, db_scale, height_scale: Scaling, set from the data.
        cell_size_m, carrier_frequency_hz, rx_height_m: The grid and link of the data
            (for the geometry maps and the UMa residual; set from the data by the task).
    """

    version: int = 1
    channels: tuple[int, ...] = (16, 24, 32, 48, 64, 96)
    num_measurements: int = 200
    geometry_inputs: bool = False
    reflection_input: bool = False
    pg_floor_db: float = -160.0
    db_offset: float = -110.0
    db_scale: float = 20.0
    height_scale: float = 20.0
    cell_size_m: float = 2.0
    carrier_frequency_hz: float = 3.5e9
    rx_height_m: float = 1.5

    def __post_init__(self) -> None:
        check_field(self.version == 1, self, "version", self.version, "1")
        _check_common(self)

    @classmethod
    def paper(cls) -> Self:
        """The reference width, 64-128-256-512-1024 channels."""
        return cls(channels=(64, 128, 256, 512, 1024))

    @classmethod
    def cpu(cls) -> Self:
        """A narrow six-level 16-24-32-48-64-96 version for CPU training, geometry and
        reflection inputs on."""
        return cls(geometry_inputs=True, reflection_input=True)

    @property
    def num_inputs(self) -> int:
        """Channels of :meth:`inputs`."""
        return 2 + 2 * self.geometry_inputs + self.reflection_input

    def inputs(self, building_height: torch.Tensor, tx_map: torch.Tensor) -> torch.Tensor:
        """The scaled input channels [batch, num_inputs, H, W]: heights, TX map (and the
        computed geometry maps)."""
        x = [building_height / self.height_scale, tx_map / self.height_scale]
        los = None
        if self.geometry_inputs:
            fs = free_space_path_gain_db(tx_map, cell_size_m=self.cell_size_m,
                                         frequency_hz=self.carrier_frequency_hz,
                                         rx_height_m=self.rx_height_m)  # fmt: skip
            los = line_of_sight(building_height, tx_map, self.rx_height_m)
            x += [los, (fs.clamp(min=self.pg_floor_db) - self.db_offset) / self.db_scale]
        if self.reflection_input:
            x.append(first_order_reflection(building_height, tx_map, self.rx_height_m, los))
        return torch.stack(x, dim=1)


@dataclass(frozen=True, kw_only=True)
class Geo2SigMapConfig(RadioUNetConfig):
    """Geo2SigMap cascade: U-Net 1 (+ UMa residual), then U-Net 2 with the sparse map.

    The fields and the ``paper()`` / ``cpu()`` presets are :class:`RadioUNetConfig`'s.
    """


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )  # fmt: skip


class UNet(nn.Module):
    """Plain U-Net: ``len(channels)`` levels, output one map.

    Shapes:
        x: [batch, in_channels, H, W], float32 (H, W divisible by 2**(levels-1))
        output: [batch, H, W], float32

    Examples:
        >>> UNet(3, (4, 8))(torch.zeros(2, 3, 16, 16)).shape
        torch.Size([2, 16, 16])
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        cin = in_channels
        for c in channels:
            self.down.append(_block(cin, c))
            cin = c
        self.up = nn.ModuleList(nn.ConvTranspose2d(channels[i + 1], channels[i], 2, stride=2)
                                for i in reversed(range(len(channels) - 1)))  # fmt: skip
        self.merge = nn.ModuleList(_block(2 * channels[i], channels[i])
                                   for i in reversed(range(len(channels) - 1)))  # fmt: skip
        self.head = nn.Conv2d(channels[0], 1, 1)
        self.factor = 2 ** (len(channels) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(f"the map of {tuple(x.shape[-2:])} cells is not divisible by "
                             f"{self.factor} (2**(levels-1)); use fewer channels levels")  # fmt: skip
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)[:, 0]


def uma_path_gain_db(tx_map: torch.Tensor, *, cell_size_m: float, frequency_hz: float,
                     rx_height_m: float) -> torch.Tensor:  # fmt: skip
    """3GPP TR 38.901 UMa NLOS path gain [dB] from the transmitter cell of ``tx_map``.

    ``-max(PL_LOS, PL'_NLOS)`` with ``PL'_NLOS = 13.54 + 39.08 log10(d3D) + 20 log10(f_GHz)
    - 0.6 (h_UT - 1.5)`` and the two-slope LOS law (break point ``4 h'_BS h'_UT f / c``).

    Shapes:
        tx_map: [batch, H, W], float32 (the TX height in its cell, 0 elsewhere)
        output: [batch, H, W], float32
    """
    b, h, w = tx_map.shape
    ti, tj, h_bs = tx_cell(tx_map)
    ii = torch.arange(h, device=tx_map.device, dtype=tx_map.dtype)[None, :, None]
    jj = torch.arange(w, device=tx_map.device, dtype=tx_map.dtype)[None, None, :]
    d2 = cell_size_m * torch.sqrt((ii - ti[:, None, None]) ** 2 + (jj - tj[:, None, None]) ** 2)
    return -uma_path_loss_db(d2, h_bs[:, None, None], rx_height_m, frequency_hz)


# 38.901 Table 7.4.1-1: (LOS offset, LOS log10(d3D) slope, LOS-2 breakpoint weight,
# NLOS offset, NLOS log10(d3D) slope, NLOS log10(f_GHz) slope, NLOS h_UT weight)
_PL_38901 = {"uma": (28.0, 22.0, 9.0, 13.54, 39.08, 20.0, 0.6),
             "umi": (32.4, 21.0, 9.5, 22.4, 35.3, 21.3, 0.3)}  # fmt: skip


def _path_loss_38901(scenario: str, d2d: torch.Tensor, h_bs: torch.Tensor | float, h_ut: float,
                     frequency_hz: float) -> torch.Tensor:  # fmt: skip
    """38.901 NLOS path loss [dB] ``max(PL_LOS, PL'_NLOS)`` at 2-D distances ``d2d`` [m]."""
    a_los, b_los, w_bp, a_nlos, b_nlos, f_nlos, w_ut = _PL_38901[scenario]
    h_bs = torch.as_tensor(h_bs, dtype=d2d.dtype, device=d2d.device)
    d3 = torch.sqrt(d2d.clamp(min=1.0) ** 2 + (h_bs - h_ut) ** 2)
    fc = frequency_hz / 1e9
    bp = 4 * (h_bs - 1.0) * (h_ut - 1.0) * frequency_hz / SPEED_OF_LIGHT
    los1 = a_los + b_los * torch.log10(d3) + 20.0 * math.log10(fc)
    los2 = a_los + 40.0 * torch.log10(d3) + 20.0 * math.log10(fc) - w_bp * torch.log10(
        bp**2 + (h_bs - h_ut) ** 2)  # fmt: skip
    los = torch.where(d2d <= bp, los1, los2)
    nlos = a_nlos + b_nlos * torch.log10(d3) + f_nlos * math.log10(fc) - w_ut * (h_ut - 1.5)
    return torch.maximum(los, nlos)


def uma_path_loss_db(d2d: torch.Tensor, h_bs: torch.Tensor | float, h_ut: float,
                     frequency_hz: float) -> torch.Tensor:  # fmt: skip
    """UMa NLOS path loss [dB] (38.901 Table 7.4.1-1) at 2-D distances ``d2d`` [m]."""
    return _path_loss_38901("uma", d2d, h_bs, h_ut, frequency_hz)


def umi_path_loss_db(d2d: torch.Tensor, h_bs: torch.Tensor | float, h_ut: float,
                     frequency_hz: float) -> torch.Tensor:  # fmt: skip
    """UMi street-canyon NLOS path loss [dB] (38.901 Table 7.4.1-1): ``max(PL_LOS, PL'_NLOS)``,
    ``PL'_NLOS = 22.4 + 35.3 log10(d3D) + 21.3 log10(f_GHz) - 0.3 (h_UT - 1.5)``."""
    return _path_loss_38901("umi", d2d, h_bs, h_ut, frequency_hz)


@register_model("radiounet", RadioUNetConfig,
                "RadioUNet (RadioWNet): two chained U-Nets, buildings + TX -> path gain [dB]")  # fmt: skip
class RadioUNet(nn.Module):
    """RadioWNet (Levie et al., TWC 2021, https://arxiv.org/abs/1911.09002).

    U-Net 1 maps [building height, TX map] to a first path-gain map; U-Net 2 maps
    [building height, TX map, first map] to the final one (both also get the geometry maps
    when ``geometry_inputs`` is on). Both are trained jointly with
    the task's loss on the final map (the reference trains them one after the other).

    Shapes:
        building_height, tx_map: [batch, H, W], float32 [m]
        sparse_pg_db, sparse_mask: [batch, H, W], float32 (accepted, not used)
        output: [batch, H, W], float32, path gain [dB]

    Examples:
        >>> m = RadioUNet(RadioUNetConfig(channels=(4, 8)))
        >>> z = torch.zeros(2, 16, 16)
        >>> m(building_height=z, tx_map=z, sparse_pg_db=z, sparse_mask=z).shape
        torch.Size([2, 16, 16])
    """

    def __init__(self, config: RadioUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.unet1 = UNet(config.num_inputs, config.channels)
        self.unet2 = UNet(config.num_inputs + 1, config.channels)

    def forward(self, building_height: torch.Tensor, tx_map: torch.Tensor,
                sparse_pg_db: torch.Tensor | None = None,
                sparse_mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        c = self.config
        x = c.inputs(building_height, tx_map)
        first = self.unet1(x)
        second = self.unet2(torch.cat([x, first[:, None]], dim=1))
        return second * c.db_scale + c.db_offset


@register_model("geo2sigmap", Geo2SigMapConfig,
                "Geo2SigMap cascade: U-Net on buildings + TX (+UMa), U-Net 2 adds sparse measurements")  # fmt: skip
class Geo2SigMapCascade(nn.Module):
    """Geo2SigMap-style cascade (Li et al., DySPAN 2024, https://arxiv.org/abs/2312.14303).

    U-Net 1: [building height, TX map] (+ the geometry maps when ``geometry_inputs`` is
    on, also for U-Net 2) -> a residual on the 3GPP UMa path-gain map.
    U-Net 2: [building height, sparse path-gain map (floor where unmeasured), measurement
    mask, U-Net 1's map] -> a residual on U-Net 1's map.

    Shapes:
        building_height, tx_map: [batch, H, W], float32 [m]
        sparse_pg_db: [batch, H, W], float32 [dB] (any value where sparse_mask is 0)
        sparse_mask: [batch, H, W], float32 (1 on a measured cell)
        output: [batch, H, W], float32, path gain [dB]

    Examples:
        >>> m = Geo2SigMapCascade(Geo2SigMapConfig(channels=(4, 8)))
        >>> z = torch.zeros(2, 16, 16)
        >>> m(building_height=z, tx_map=z, sparse_pg_db=z, sparse_mask=z).shape
        torch.Size([2, 16, 16])
    """

    def __init__(self, config: Geo2SigMapConfig) -> None:
        super().__init__()
        self.config = config
        self.unet1 = UNet(config.num_inputs, config.channels)
        self.unet2 = UNet(config.num_inputs + 3, config.channels)

    def forward(self, building_height: torch.Tensor, tx_map: torch.Tensor,
                sparse_pg_db: torch.Tensor, sparse_mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
        c = self.config
        x = c.inputs(building_height, tx_map)
        uma = uma_path_gain_db(tx_map, cell_size_m=c.cell_size_m,
                               frequency_hz=c.carrier_frequency_hz, rx_height_m=c.rx_height_m)  # fmt: skip
        uma = (uma.clamp(min=c.pg_floor_db) - c.db_offset) / c.db_scale
        first = uma + self.unet1(x)
        sparse = torch.where(sparse_mask > 0, (sparse_pg_db - c.db_offset) / c.db_scale,
                             torch.zeros_like(sparse_pg_db))  # fmt: skip
        inputs = torch.cat([x, sparse[:, None], sparse_mask[:, None], first[:, None]], dim=1)
        return (first + self.unet2(inputs)) * c.db_scale + c.db_offset
