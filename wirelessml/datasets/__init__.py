"""The wirelessml HDF5 dataset format: versioned, self-describing, resumable.

A simulator writes blocks of named arrays through :class:`DatasetWriter`; :func:`read_info`
and :func:`read_arrays` read any file back; :class:`H5Dataset` feeds a ``DataLoader``.
"""

from __future__ import annotations

from wirelessml.datasets.reader import (
    DatasetInfo,
    StoredField,
    open_dataset_file,
    read_arrays,
    read_info,
    require_fields,
)
from wirelessml.datasets.schema import FORMAT_NAME, SCHEMA_VERSION, FieldSpec
from wirelessml.datasets.torch_dataset import H5Dataset, split_ranges
from wirelessml.datasets.writer import DatasetWriter

__all__ = [
    "FORMAT_NAME",
    "SCHEMA_VERSION",
    "DatasetInfo",
    "DatasetWriter",
    "FieldSpec",
    "H5Dataset",
    "StoredField",
    "open_dataset_file",
    "read_arrays",
    "read_info",
    "require_fields",
    "split_ranges",
]
