"""DatasetWriter: round trip, attributes, atomic finish, resume, refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch

from wirelessml.datasets import (
    FORMAT_NAME,
    SCHEMA_VERSION,
    DatasetWriter,
    FieldSpec,
    read_arrays,
    read_info,
)
from wirelessml.errors import ConfigError, DatasetError


def test_round_trip_is_bit_exact(written, data):
    arrays = read_arrays(written)
    assert arrays["h"].dtype == np.complex64
    for name, expected in data.items():
        assert arrays[name].dtype == expected.dtype
        assert arrays[name].tobytes() == expected.tobytes(), name


def test_torch_tensors_are_accepted(tmp_path, make_writer, data):
    path = tmp_path / "t.h5"
    with make_writer(path) as writer:
        block = {name: torch.from_numpy(array) for name, array in data.items() if name != "model"}
        writer.write({**block, "model": data["model"]})
        writer.finish()
    assert read_arrays(path, ["h"])["h"].tobytes() == data["h"].tobytes()


def test_attrs_readable_with_plain_h5py(written, num_samples, config):
    with h5py.File(written, "r") as file:
        root = file.attrs
        assert root["format"] == FORMAT_NAME
        assert root["schema_version"] == SCHEMA_VERSION
        assert root["simulator"] == "ofdm"
        assert json.loads(root["config"]) == config
        assert root["seed"] == 7
        assert root["num_samples"] == root["num_committed"] == num_samples
        assert bool(root["complete"]) is True
        versions = json.loads(root["versions"])
        assert set(versions) == {"wirelessml", "sionna", "torch", "h5py", "numpy"}
        assert root["created_utc"].endswith("Z")
        assert root["carrier_frequency"] == 3.5e9
        assert list(root["pilots"]) == [2, 11]
        h = file["h"]
        assert h.dtype == np.complex64 and h.shape == (num_samples, 2, 3)
        assert h.chunks == (4, 2, 3)
        assert h.attrs["unit"] == "1"
        assert json.loads(h.attrs["dims"]) == ["sample", "num_rx_ant", "num_subcarriers"]
        assert h.attrs["description"] == "channel frequency response"
        assert file["snr_db"].attrs["unit"] == "dB"


def test_info_reports_extra_attrs_as_plain_values(written, specs, num_samples):
    info = read_info(written)
    assert info.attrs == {"carrier_frequency": 3.5e9, "pilots": [2, 11]}
    assert info.fields == {spec.name: spec for spec in specs}
    assert info.complete and info.num_committed == num_samples


def test_path_appears_only_at_finish(tmp_path, make_writer, block, num_samples):
    path = tmp_path / "ofdm.h5"
    partial = tmp_path / "ofdm.h5.partial"
    with make_writer(path) as writer:
        writer.write(block(0, num_samples))
        assert writer.done and not path.exists()
        info = read_info(partial)
        assert info.complete is False and info.num_committed == num_samples
        assert writer.finish() == path
    assert path.exists() and not partial.exists()
    assert read_info(path).complete is True


def test_exit_on_error_keeps_partial_and_reraises(tmp_path, make_writer, block):
    path = tmp_path / "ofdm.h5"
    with pytest.raises(RuntimeError, match="boom"), make_writer(path) as writer:
        writer.write(block(0, 4))
        raise RuntimeError("boom")
    assert not path.exists()
    assert read_info(tmp_path / "ofdm.h5.partial").num_committed == 4


def test_finish_before_all_samples_refused(tmp_path, make_writer, block):
    with make_writer(tmp_path / "a.h5") as writer:
        writer.write(block(0, 3))
        with pytest.raises(DatasetError, match="3 of 10 samples"):
            writer.finish()


def test_resume_equals_uninterrupted_write(tmp_path, make_writer, block, written, num_samples):
    path = tmp_path / "resumed.h5"
    writer = make_writer(path)
    writer.write(block(0, 3))
    writer.close()
    writer = make_writer(path, mode="resume")
    assert writer.num_committed == 3 and writer.remaining == num_samples - 3
    writer.write(block(3, 8))
    writer.close()
    with make_writer(path, mode="resume") as writer:
        writer.write(block(8, num_samples))
        writer.finish()
    resumed, straight = read_arrays(path), read_arrays(written)
    for name in straight:
        assert resumed[name].tobytes() == straight[name].tobytes(), name


def test_resume_of_complete_file_is_done(written, make_writer, num_samples):
    writer = make_writer(written, mode="resume")
    assert writer.done and writer.num_committed == num_samples
    assert writer.finish() == written


def test_resume_with_other_config_names_the_key(tmp_path, make_writer, block, written, config):
    other = json.dumps({**config, "_data": {**config["_data"], "snr_db": [0, 20]}})
    partial_path = tmp_path / "p.h5"
    make_writer(partial_path).close()
    expected = r"config differs in _data\.snr_db: file has \[0, 25\], requested \[0, 20\]"
    for path in (partial_path, written):
        with pytest.raises(DatasetError, match=expected):
            make_writer(path, mode="resume", config_json=other)


@pytest.mark.parametrize(("key", "value"), [("seed", 8), ("simulator", "mimo"), ("num_samples", 9)])
def test_resume_with_other_identity_names_it(tmp_path, make_writer, key, value):
    path = tmp_path / "p.h5"
    make_writer(path).close()
    with pytest.raises(DatasetError, match=f"{key} differs"):
        make_writer(path, mode="resume", **{key: value})


def test_resume_without_any_file_creates(tmp_path, make_writer):
    writer = make_writer(tmp_path / "new.h5", mode="resume")
    assert writer.num_committed == 0
    writer.close()
    assert (tmp_path / "new.h5.partial").exists()


def test_create_onto_existing_file_refused(tmp_path, make_writer, written):
    with pytest.raises(DatasetError, match="exists; use --resume .* or --overwrite"):
        make_writer(written)
    make_writer(tmp_path / "p.h5").close()
    with pytest.raises(DatasetError, match=r"p\.h5\.partial exists"):
        make_writer(tmp_path / "p.h5")


def test_overwrite_replaces_file_and_partial(tmp_path, make_writer, block, written, num_samples):
    (tmp_path / "ofdm.h5.partial").write_bytes(b"stale")
    with make_writer(written, mode="overwrite", seed=99) as writer:
        assert writer.num_committed == 0
        writer.write(block(0, num_samples))
        writer.finish()
    assert read_info(written).seed == 99
    assert not (tmp_path / "ofdm.h5.partial").exists()


def test_unwritable_folder_refused_and_nothing_left(tmp_path, make_writer):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(
        DatasetError, match="cannot write .*out.h5: .*not_a_folder is a file, not a folder"
    ):
        make_writer(blocker / "out.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder_refused(tmp_path, make_writer):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    try:
        with pytest.raises(DatasetError, match="cannot write"):
            make_writer(folder / "out.h5")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_shape_mismatch_names_field_and_shapes(tmp_path, make_writer, block):
    bad = {**block(0, 2), "h": np.zeros((2, 2, 4), np.complex64)}
    with make_writer(tmp_path / "a.h5") as writer, pytest.raises(DatasetError) as excinfo:
        writer.write(bad)
    assert str(excinfo.value) == "field 'h': got shape (2, 2, 4), expected (n, 2, 3)"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda b: {k: v for k, v in b.items() if k != "label"}, "lacks field 'label'"),
        (lambda b: {**b, "extra": b["label"]}, "unknown field 'extra'"),
        (lambda b: {**b, "label": b["label"][:1]}, "same number"),
        (lambda b: {**b, "label": b["snr_db"]}, "field 'label': got dtype float32"),
    ],
)
def test_bad_blocks_refused(tmp_path, make_writer, block, change, match):
    with make_writer(tmp_path / "a.h5") as writer, pytest.raises(DatasetError, match=match):
        writer.write(change(block(0, 2)))


def test_overflow_refused(tmp_path, make_writer, block):
    with make_writer(tmp_path / "a.h5") as writer:
        writer.write(block(0, 8))
        with pytest.raises(DatasetError, match="exceed num_samples=10"):
            writer.write(block(0, 3))
        assert writer.num_committed == 8


def test_reserved_attr_and_bad_args_refused(tmp_path, make_writer):
    with pytest.raises(ConfigError, match="'seed'"):
        make_writer(tmp_path / "a.h5", attrs={"seed": 1})
    with pytest.raises(ConfigError, match="num_samples=0"):
        make_writer(tmp_path / "a.h5", num_samples=0)
    with pytest.raises(ConfigError, match="config_json"):
        make_writer(tmp_path / "a.h5", config_json="{not json")
    assert list(tmp_path.iterdir()) == []


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from wirelessml.datasets import DatasetWriter, FieldSpec
    spec = FieldSpec(name="x", shape=(3,), dtype="float32", unit="1", dims=("k",),
                     description="row number")
    writer = DatasetWriter(sys.argv[1], simulator="demo", config_json="{}", seed=0,
                           num_samples=500, fields=[spec], chunk_samples=8)
    while True:
        writer.write({"x": np.full((1, 3), writer.num_committed, np.float32)})
        print(writer.num_committed, flush=True)
        time.sleep(0.002)
    """
)


def test_kill_9_leaves_valid_committed_rows_and_resumes(tmp_path):
    path = tmp_path / "killed.h5"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for _ in range(20):
        child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait()
    info = read_info(tmp_path / "killed.h5.partial")
    assert 20 <= info.num_committed < 500 and not path.exists()
    spec = FieldSpec(
        name="x", shape=(3,), dtype="float32", unit="1", dims=("k",), description="row number"
    )
    with DatasetWriter(
        path,
        simulator="demo",
        config_json="{}",
        seed=0,
        num_samples=500,
        fields=[spec],
        mode="resume",
    ) as writer:
        assert writer.num_committed == info.num_committed
        start = writer.num_committed
        writer.write({"x": np.repeat(np.arange(start, 500, dtype=np.float32), 3).reshape(-1, 3)})
        writer.finish()
    expected = np.repeat(np.arange(500, dtype=np.float32), 3).reshape(-1, 3)
    assert np.array_equal(read_arrays(path)["x"], expected)


def test_compressed_file_written_at_finish(tmp_path, make_writer, block, data, num_samples):
    path = tmp_path / "gz.h5"
    with make_writer(path, compression="gzip") as writer:
        writer.write(block(0, 5))
        with h5py.File(tmp_path / "gz.h5.partial", "r") as partial:
            assert partial["h"].compression is None  # rewritable in place, safe to kill
        writer.write(block(5, num_samples))
        writer.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gz.h5"]
    with h5py.File(path, "r") as file:
        assert file["h"].compression == "gzip" and file["h"].chunks == (4, 2, 3)
        assert json.loads(file["h"].attrs["dims"])[0] == "sample"
    info = read_info(path)
    assert info.complete and info.seed == 7
    arrays = read_arrays(path)
    for name, expected in data.items():
        assert arrays[name].tobytes() == expected.tobytes(), name
