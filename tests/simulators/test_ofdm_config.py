"""OFDMConfig validation and JSON round trip (no Sionna needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirelessml.config import config_from_json, config_to_json, parse_overrides
from wirelessml.errors import ConfigError
from wirelessml.simulators import OFDMConfig


def test_defaults_are_the_adafortitran_setup() -> None:
    cfg = OFDMConfig()
    assert (cfg.fft_size, cfg.num_ofdm_symbols, cfg.subcarrier_spacing_hz) == (120, 14, 15e3)
    assert cfg.pilot_ofdm_symbols == (2, 11)
    assert cfg.pilot_subcarriers == tuple(range(0, 120, 10))
    assert (cfg.snr_db, cfg.delay_spread_ns, cfg.doppler_hz) == ((0, 25), (25, 300), (50, 1000))
    assert cfg.channel_model == "tdl-a" and cfg.carrier_frequency_hz == 3.5e9
    assert len(cfg.grid_conditions) == 6 * 3 * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"snr_db": (25.0, 0.0)}, "OFDMConfig.snr_db=(25.0, 0.0) is not allowed"),
        ({"channel_model": "tdl-z"}, "channel_model='tdl-z' is not allowed: expected one of tdl-a"),
        ({"pilot_spacing": 200}, "leaves at least 2 pilots on each pilot symbol"),
        ({"pilot_offset": 119}, "leaves 1"),
        ({"pilot_ofdm_symbols": (2, 14)}, "pilot_ofdm_symbols=(2, 14)"),
        ({"num_rx_ant": 0}, "num_rx_ant=0 is not allowed: expected an integer >= 1"),
        ({"doppler_hz": (-1.0, 10.0)}, "doppler_hz=(-1.0, 10.0)"),
        ({"mode": "sweep"}, "mode='sweep'"),
    ],
)
def test_bad_fields_name_field_value_and_allowed(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        OFDMConfig(**kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_grid_mode_needs_a_multiple_of_the_combinations() -> None:
    cfg = OFDMConfig(mode="grid")
    cfg.check_num_samples(54 * 3)
    with pytest.raises(ConfigError, match="a multiple of the 54 grid combinations"):
        cfg.check_num_samples(100)


def test_overrides_parse_literals_and_bare_words() -> None:
    out = parse_overrides(OFDMConfig, ["snr_db=(0, 20)", "channel_model=cdl-c", "num-rx-ant=2"])
    assert out == {"snr_db": [0, 20], "channel_model": "cdl-c", "num_rx_ant": 2}
    with pytest.raises(ConfigError, match="has no such field; known fields: block_size"):
        parse_overrides(OFDMConfig, ["snr=3"])


@settings(max_examples=40, deadline=None)
@given(
    lo=st.floats(-20, 30, allow_nan=False),
    width=st.floats(0, 20, allow_nan=False),
    model=st.sampled_from(["tdl-a", "cdl-e", "uma"]),
    rx=st.integers(1, 8),
)
def test_json_round_trip(lo: float, width: float, model: str, rx: int) -> None:
    cfg = OFDMConfig(snr_db=(lo, lo + width), channel_model=model, num_rx_ant=rx)
    assert config_from_json(config_to_json(cfg, "ofdm"), {"ofdm": OFDMConfig}) == cfg
