"""H5Dataset: dtypes, DataLoader workers, incomplete files, indices and splits."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from wirelessml.datasets import H5Dataset, read_arrays
from wirelessml.errors import DatasetError


def test_item_types(written, data):
    item = H5Dataset(written)[3]
    assert item["h"].dtype == torch.complex64 and item["h"].shape == (2, 3)
    assert item["snr_db"].dtype == torch.float32 and item["snr_db"].shape == ()
    assert item["label"].dtype == torch.int64 and item["label"].item() == 21
    assert item["model"] == data["model"][3].decode()
    assert np.array_equal(item["h"].numpy(), data["h"][3])


def test_dataloader_with_workers_yields_stored_data(written):
    dataset = H5Dataset(written)
    dataset[0]  # open a handle in the parent first: workers must not reuse it
    loader = DataLoader(dataset, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    stored = read_arrays(written)
    for name in ("h", "snr_db", "label"):
        got = torch.cat([batch[name] for batch in batches]).numpy()
        assert got.dtype == (np.int64 if name == "label" else stored[name].dtype)
        assert np.array_equal(got, stored[name]), name
    models = [m for batch in batches for m in batch["model"]]
    assert models == [m.decode() for m in stored["model"]]


def test_copy_drops_open_handle(written, data):
    # deepcopy goes through __getstate__, as pickling for spawn-started workers does.
    dataset = H5Dataset(written)
    dataset[0]
    clone = copy.deepcopy(dataset)
    assert clone._file is None
    assert np.array_equal(clone[2]["h"].numpy(), data["h"][2])
    dataset.close()
    clone.close()


def test_incomplete_refused_unless_allowed(tmp_path, make_writer, block, data):
    with make_writer(tmp_path / "ofdm.h5") as writer:
        writer.write(block(0, 4))
    partial = tmp_path / "ofdm.h5.partial"
    with pytest.raises(DatasetError, match="incomplete .*4 of 10.*allow_incomplete=True"):
        H5Dataset(partial)
    dataset = H5Dataset(partial, allow_incomplete=True)
    assert len(dataset) == 4
    assert np.array_equal(dataset[-1]["h"].numpy(), data["h"][3])
    with pytest.raises(DatasetError, match=r"index 4 is outside the valid range 0\.\.3"):
        H5Dataset(partial, indices=[0, 4], allow_incomplete=True)


def test_fields_and_indices(written, data):
    dataset = H5Dataset(written, fields=["label"], indices=range(2, 6))
    assert len(dataset) == 4 and set(dataset[0]) == {"label"}
    assert [dataset[i]["label"].item() for i in range(4)] == data["label"][2:6].tolist()
    with pytest.raises(IndexError):
        dataset[4]
    with pytest.raises(DatasetError, match="has no field 'y'"):
        H5Dataset(written, fields=["y"])
    with pytest.raises(DatasetError, match=r"index 10 is outside the valid range 0\.\.9"):
        H5Dataset(written, indices=range(5, 11))


def test_split_and_read_batch(written, data):
    train, val, test = H5Dataset(written).split(0.8, 0.1, 0.1)
    assert (len(train), len(val), len(test)) == (8, 1, 1)
    assert test[0]["label"].item() == data["label"][9]
    batch = train.read_batch([5, 1, 2, 1])
    assert np.array_equal(batch["h"].numpy(), data["h"][[5, 1, 2, 1]])
    assert batch["model"] == [data["model"][i].decode() for i in (5, 1, 2, 1)]
    contiguous = train.read_batch([2, 3, 4])
    assert np.array_equal(contiguous["snr_db"].numpy(), data["snr_db"][2:5])
