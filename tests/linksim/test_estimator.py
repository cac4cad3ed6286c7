"""NeuralChannelEstimator inside plain Sionna: decoded bits, LS-identical shapes and dtypes,
err_var from the validation report, grid checks, FortiTran (no priors)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

pytest.importorskip("sionna")

from sionna.phy import config as sionna_config  # noqa: E402
from sionna.phy.channel import OFDMChannel  # noqa: E402
from sionna.phy.channel.tr38901 import TDL  # noqa: E402
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder  # noqa: E402
from sionna.phy.mapping import BinarySource, Demapper, Mapper  # noqa: E402
from sionna.phy.mimo import StreamManagement  # noqa: E402
from sionna.phy.ofdm import (  # noqa: E402
    LMMSEEqualizer,
    LSChannelEstimator,
    PilotPattern,
    ResourceGrid,
    ResourceGridMapper,
)
from sionna.phy.utils import ebnodb2no  # noqa: E402

from wirelessml.linksim import (  # noqa: E402
    GridMismatchError,
    NeuralChannelEstimator,
    TrainedRun,
    load_trained_run,
    pilot_sequence,
    resource_grid,
)


def _plain_grid(fft_size: int = 24, pilot_offset: int = 0, num_tx: int = 1) -> ResourceGrid:
    """A user's own grid, written with Sionna only: comb pilots on symbols 2 and 11."""
    mask = np.zeros((num_tx, 1, 14, fft_size), dtype=bool)
    mask[:, :, [2, 11], pilot_offset::4] = True
    pilots = np.exp(1j * np.pi / 4 * (2 * np.arange(mask[0, 0].sum()) + 1)) * np.ones(
        (num_tx, 1, 1)
    )
    return ResourceGrid(num_ofdm_symbols=14, fft_size=fft_size, subcarrier_spacing=15e3,
                        num_tx=num_tx, cyclic_prefix_length=4,
                        pilot_pattern=PilotPattern(mask, pilots.astype(np.complex64)))  # fmt: skip


class _PlainLink(torch.nn.Module):
    """Sionna's neural-receiver-tutorial pattern, no wirelessml helper: QPSK, 5G LDPC rate
    1/2, TDL-A 50 ns / 5 m/s at 3.5 GHz, LMMSE equalization; the estimator is injected."""

    def __init__(self, rg: ResourceGrid, estimator) -> None:  # noqa: ANN001
        super().__init__()
        self.rg, self.estimator, self.bps = rg, estimator, 2
        self.n = int(rg.num_data_symbols * self.bps)
        self.k = self.n // 2
        self.source, self.encoder = BinarySource(), LDPC5GEncoder(self.k, self.n)
        self.mapper, self.rg_mapper = Mapper("qam", self.bps), ResourceGridMapper(rg)
        tdl = TDL("A", 50e-9, 3.5e9, min_speed=5.0, max_speed=5.0)
        self.channel = OFDMChannel(tdl, rg, add_awgn=True, normalize_channel=True)
        self.equalizer = LMMSEEqualizer(rg, StreamManagement(np.ones([1, 1]), 1))
        self.demapper, self.decoder = Demapper("app", "qam", self.bps), LDPC5GDecoder(
            self.encoder, hard_out=True)  # fmt: skip

    def forward(self, batch_size: int, ebno_db: float) -> tuple[torch.Tensor, torch.Tensor]:
        no = ebnodb2no(ebno_db, self.bps, 0.5, self.rg)
        bits = self.source([batch_size, 1, 1, self.k])
        y = self.channel(self.rg_mapper(self.mapper(self.encoder(bits))), no)
        h_hat, err_var = self.estimator(y, no)
        x_hat, no_eff = self.equalizer(y, h_hat, err_var, no)
        return bits, self.decoder(self.demapper(x_hat, no_eff))


def test_plain_sionna_pipeline_decodes(tiny_run) -> None:
    rg = _plain_grid()
    ber = {}
    for name, est in (("ls", LSChannelEstimator(rg, interpolation_type="lin")),
                      ("neural", NeuralChannelEstimator(tiny_run, rg))):  # fmt: skip
        sionna_config.seed = 7  # same bits, channels and noise for both
        with torch.no_grad():
            bits, bits_hat = _PlainLink(rg, est)(32, ebno_db=12.0)
        assert bits_hat.shape == bits.shape == (32, 1, 1, 324)
        ber[name] = float((bits != bits_hat).float().mean())
    assert ber["neural"] < 1e-3, ber
    assert ber["neural"] <= ber["ls"] + 1e-3, ber


def test_shapes_and_dtypes_match_ls(tiny_run) -> None:
    rg = _plain_grid()
    est, ls = NeuralChannelEstimator(tiny_run, rg), LSChannelEstimator(rg, interpolation_type="lin")
    y = torch.randn(3, 2, 2, 14, 24, dtype=torch.complex64)
    for no in (torch.tensor(0.1), torch.full((3,), 0.1), torch.full((3, 2), 0.1),
               torch.full((3, 2, 2), 0.1)):  # fmt: skip
        h_hat, err_var = est(y, no)
        h_ls, ev_ls = ls(y, no)
        assert h_hat.shape == h_ls.shape == (3, 2, 2, 1, 1, 14, 24)
        assert (h_hat.dtype, err_var.dtype) == (h_ls.dtype, ev_ls.dtype)
        assert err_var.shape == ev_ls.shape
        assert bool((err_var > 0).all())
    # every frame is estimated on its own: a receiver's estimate ignores the others'
    h_hat, _ = est(y, torch.tensor(0.1))
    h_one, _ = est(y[:1, 1:, :1], torch.tensor(0.1))
    torch.testing.assert_close(h_hat[:1, 1:, :1], h_one, rtol=1e-4, atol=1e-5)


def test_err_var_follows_val_report(tiny_run) -> None:
    rows = json.loads((tiny_run / "val_report.json").read_text())["by"]["snr_db"]
    est = NeuralChannelEstimator(tiny_run, _plain_grid())
    y = torch.randn(1, 1, 1, 14, 24, dtype=torch.complex64)
    for row in (rows[0], rows[len(rows) // 2], rows[-1]):
        _, err_var = est(y, torch.tensor(10 ** (-row["value"] / 10)))
        assert 10 * math.log10(float(err_var[0, 0, 0, 0, 0, 0, 0])) == pytest.approx(
            row["mse_db"], abs=1e-3
        )
    # halfway (in SNR) between two bins: halfway in dB; beyond the ends: held
    a, b = rows[0], rows[1]
    _, ev = est(y, torch.tensor(10 ** (-(a["value"] + b["value"]) / 20)))
    assert 10 * math.log10(float(ev.flatten()[0])) == pytest.approx(
        (a["mse_db"] + b["mse_db"]) / 2, abs=1e-3
    )
    for no, row in ((1e3, rows[0]), (1e-9, rows[-1]), (0.0, rows[-1])):
        _, ev = est(y, torch.tensor(no))
        assert 10 * math.log10(float(ev.flatten()[0])) == pytest.approx(row["mse_db"], abs=1e-3)


@pytest.mark.parametrize(("grid", "field"), [
    (dict(fft_size=36), "fft_size"),
    (dict(pilot_offset=1), "pilot subcarriers of OFDM symbol 2"),
    (dict(num_tx=2), "num_tx x num_streams_per_tx"),
])  # fmt: skip
def test_other_grid_is_refused(tiny_run, grid, field) -> None:
    with pytest.raises(GridMismatchError, match=f"^.*trained on another resource grid: {field} "):
        NeuralChannelEstimator(tiny_run, _plain_grid(**grid))


def test_rebuilt_grid_equals_simulator(tiny_run, grid_config) -> None:
    from wirelessml.simulators.ofdm import OFDMSimulator

    assert torch.equal(pilot_sequence(grid_config), OFDMSimulator(grid_config).x_pilots)
    rg = resource_grid(grid_config)
    NeuralChannelEstimator(tiny_run, rg)  # its own training grid is accepted
    assert (rg.num_data_symbols, rg.fft_size) == (14 * 24 - 12, 24)


def test_priors_are_used_and_fortitran_has_none(tiny_run) -> None:
    from wirelessml.models.adafortitran import FortiTran, FortiTranConfig

    rg, y, no = (
        _plain_grid(),
        torch.randn(2, 1, 1, 14, 24, dtype=torch.complex64),
        torch.tensor(0.05),
    )
    run = load_trained_run(tiny_run)
    est = NeuralChannelEstimator(run, rg)
    assert est.doppler_hz == pytest.approx(run.model.config.prior_mean[2])  # default: training mean
    slow = est(y, no)[0]
    est.doppler_hz = 5000.0
    assert not torch.allclose(slow, est(y, no)[0])
    data = {k: v for k, v in json.loads(json.dumps(run.meta["model_config"]["_data"])).items()
            if k != "priors"}  # fmt: skip
    cfg = FortiTranConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    forti = TrainedRun(model=FortiTran(cfg).eval(), meta=run.meta, val_report=run.val_report)
    a = NeuralChannelEstimator(forti, rg, doppler_hz=10.0)
    b = NeuralChannelEstimator(forti, rg, doppler_hz=900.0)
    assert not a.uses_priors
    torch.testing.assert_close(a(y, no)[0], b(y, no)[0])
    assert a(y, no)[0].shape == (2, 1, 1, 1, 1, 14, 24)
