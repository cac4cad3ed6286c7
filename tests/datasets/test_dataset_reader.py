"""Reader: one-line refusals of foreign files, info, partial reads, field requirements."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from wirelessml.datasets import open_dataset_file, read_arrays, read_info, require_fields
from wirelessml.errors import DatasetError


def _one_line(excinfo: pytest.ExceptionInfo[DatasetError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_text_file_refused(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not hdf5\n")
    with pytest.raises(DatasetError) as excinfo:
        read_info(path)
    assert _one_line(excinfo) == f"{path} is not an HDF5 file"


def test_foreign_hdf5_refused(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as file:
        file["x"] = np.arange(3)
    with pytest.raises(DatasetError) as excinfo:
        read_info(path)
    assert _one_line(excinfo) == (
        f"{path} is an HDF5 file but not a wirelessml dataset "
        "(no format attribute 'wirelessml-dataset')"
    )


def test_newer_schema_refused(written):
    with h5py.File(written, "r+") as file:
        file.attrs["schema_version"] = np.int64(2)
    with pytest.raises(DatasetError) as excinfo:
        open_dataset_file(written)
    assert _one_line(excinfo) == (
        f"{written} schema version 2 is newer than this wirelessml reads (1); upgrade wirelessml"
    )


def test_missing_file_and_partial_hint(tmp_path, make_writer):
    path = tmp_path / "ofdm.h5"
    with pytest.raises(DatasetError, match=r"^no such file: .*ofdm\.h5$"):
        read_info(path)
    make_writer(path).close()
    with pytest.raises(DatasetError, match="incomplete .* --resume"):
        read_info(path)


def test_info_of_partial(tmp_path, make_writer, block, config):
    path = tmp_path / "ofdm.h5"
    with make_writer(path) as writer:
        writer.write(block(0, 4))
    info = read_info(tmp_path / "ofdm.h5.partial")
    assert (info.complete, info.num_committed, info.num_samples) == (False, 4, 10)
    assert info.simulator == "ofdm" and info.seed == 7 and info.config == config
    assert info.fields["h"].dims == ("num_rx_ant", "num_subcarriers")


def test_read_arrays_reads_only_committed_rows(tmp_path, make_writer, block, data):
    path = tmp_path / "ofdm.h5"
    with make_writer(path) as writer:
        writer.write(block(0, 4))
    arrays = read_arrays(tmp_path / "ofdm.h5.partial", ["h", "label"])
    assert set(arrays) == {"h", "label"}
    assert np.array_equal(arrays["h"], data["h"][:4])
    with pytest.raises(
        DatasetError, match=r"rows \[0, 5\) are outside the committed rows \[0, 4\)"
    ):
        read_arrays(tmp_path / "ofdm.h5.partial", stop=5)


def test_read_arrays_slice_and_unknown_name(written, data):
    arrays = read_arrays(written, ["snr_db"], start=2, stop=5)
    assert np.array_equal(arrays["snr_db"], data["snr_db"][2:5])
    with pytest.raises(DatasetError, match=r"no field 'x' \(fields: h, label, model, snr_db\)"):
        read_arrays(written, ["x"])


def test_require_fields(written):
    info = read_info(written)
    require_fields(info, ["h", "snr_db"], family="ofdm")
    with pytest.raises(DatasetError, match="holds 'ofdm' data; this needs 'mimo' data"):
        require_fields(info, ["h"], family="mimo")
    with pytest.raises(DatasetError, match="has no field 'y'"):
        require_fields(info, ["h", "y"])


def test_corrupt_partial_refused_on_resume(tmp_path, make_writer):
    (tmp_path / "ofdm.h5.partial").write_bytes(b"\x00" * 64)
    with pytest.raises(
        DatasetError, match="cannot resume: .* is not an HDF5 file; use --overwrite"
    ):
        make_writer(tmp_path / "ofdm.h5", mode="resume")
