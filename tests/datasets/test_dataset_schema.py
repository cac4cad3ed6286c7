"""FieldSpec validation, config comparison and index splits."""

from __future__ import annotations

import numpy as np
import pytest

from wirelessml.datasets import FieldSpec, split_ranges
from wirelessml.datasets.schema import config_difference
from wirelessml.errors import ConfigError


def _spec(**overrides: object) -> FieldSpec:
    kwargs: dict[str, object] = {
        "name": "h",
        "shape": (2, 3),
        "dtype": "complex64",
        "unit": "1",
        "dims": ("num_rx_ant", "num_subcarriers"),
        "description": "channel",
    }
    kwargs.update(overrides)
    return FieldSpec(**kwargs)  # type: ignore[arg-type]


def test_valid_spec():
    spec = _spec(shape=[2, 3], dims=["a", "b"])
    assert spec.shape == (2, 3) and spec.dims == ("a", "b")
    assert spec.numpy_dtype == np.complex64
    assert _spec(dtype="S16", shape=(), dims=()).is_text


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"name": "a b"}, "name='a b'"),
        ({"shape": (2, 0)}, r"shape=\(2, 0\)"),
        ({"dtype": "float64"}, "dtype='float64' .* complex64, float32, int64 or .*'S<n>'"),
        ({"dtype": "S0"}, "dtype='S0'"),
        ({"dims": ("a",)}, "one name per axis"),
        ({"dims": ("sample", "b")}, "other than 'sample'"),
        ({"unit": None}, "unit=None"),
    ],
)
def test_invalid_spec_names_field_and_value(overrides, match):
    with pytest.raises(ConfigError, match=match) as excinfo:
        _spec(**overrides)
    assert "FieldSpec" in str(excinfo.value)


def test_coerce_casts_within_kind():
    spec = _spec(name="snr_db", shape=(), dims=(), dtype="float32")
    assert spec.coerce(np.arange(3.0)).dtype == np.float32
    text = _spec(name="model", shape=(), dims=(), dtype="S4")
    assert text.coerce(np.array(["ab", "cd"])).dtype == np.dtype("S4")


def test_config_difference():
    stored = {"_type": "ofdm", "_data": {"snr_db": [0, 25], "n": 1}}
    assert (
        config_difference(stored, {"_data": {"n": 1, "snr_db": [0, 25]}, "_type": "ofdm"}) is None
    )
    assert config_difference(stored, {"_type": "ofdm", "_data": {"snr_db": [0, 20], "n": 1}}) == (
        "config differs in _data.snr_db: file has [0, 25], requested [0, 20]"
    )
    assert config_difference(stored, {"_type": "ofdm", "_data": {"snr_db": [0, 25]}}) == (
        "config differs in _data.n: file has 1, requested no such key"
    )


@pytest.mark.parametrize("n", [0, 1, 7, 10, 101])
@pytest.mark.parametrize("fractions", [(0.8, 0.1, 0.1), (0.5, 0.5), (1.0,), (0.7, 0.2, 0.1)])
def test_split_ranges_cover_without_overlap(n, fractions):
    ranges = split_ranges(n, fractions)
    assert len(ranges) == len(fractions)
    assert [i for r in ranges for i in r] == list(range(n))


def test_split_ranges_values_and_errors():
    assert split_ranges(10, (0.8, 0.1, 0.1)) == [range(0, 8), range(8, 9), range(9, 10)]
    assert split_ranges(10, (0.5,)) == [range(0, 5)]
    with pytest.raises(ConfigError, match="summing to at most 1"):
        split_ranges(10, (0.8, 0.3))
    with pytest.raises(ConfigError, match="n=-1"):
        split_ranges(-1, (1.0,))
