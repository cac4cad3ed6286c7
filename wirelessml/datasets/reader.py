"""Reading wirelessml dataset files: open with one-line errors, describe, and load arrays."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from wirelessml._typing import ArrayDict, PathType
from wirelessml.datasets.schema import (
    FORMAT_NAME,
    ROOT_ATTRS,
    SCHEMA_VERSION,
    FieldSpec,
    config_difference,
    dtype_name,
)
from wirelessml.errors import ConfigError, DatasetError

__all__ = [
    "DatasetInfo",
    "StoredField",
    "identity_difference",
    "open_dataset_file",
    "read_arrays",
    "read_info",
    "require_fields",
    "stored_field",
]


@dataclass(frozen=True)
class StoredField:
    """A field as stored: its spec plus how HDF5 lays it out.

    Args:
        spec: The field's spec, rebuilt from the dataset's dtype, shape and attributes.
        chunks: HDF5 chunk shape including the sample axis, or ``None`` if contiguous.
        compression: HDF5 compression filter name (``"gzip"``, ``"lzf"``) or ``None``.
    """

    spec: FieldSpec
    chunks: tuple[int, ...] | None = None
    compression: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """Everything a dataset file says about itself (its root attributes and fields).

    ``attrs`` holds the root attributes beyond the standard ones, numpy arrays as lists.
    ``fields`` keeps the file's order (the order the writer was given).
    """

    path: Path
    format: str
    schema_version: int
    simulator: str
    config: dict[str, Any]
    config_json: str
    seed: int
    versions: dict[str, str]
    num_samples: int
    num_committed: int
    complete: bool
    created_utc: str
    fields: dict[str, FieldSpec]
    attrs: dict[str, Any]


def _plain(value: Any) -> Any:
    """HDF5 attribute value as a plain Python value (str, int, float, bool or list)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value] if value.dtype.kind in "SOU" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_dataset_file(path: PathType) -> h5py.File:
    """Open a wirelessml dataset read-only, refusing anything else with a one-line error.

    Args:
        path: A complete dataset file or a ``.partial`` working file.

    Returns:
        The open :class:`h5py.File`; the caller closes it.

    Raises:
        DatasetError: The file is missing, not HDF5, not a wirelessml dataset, or written by
            a newer schema version.
    """
    path = Path(path)
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        if partial.exists():
            raise DatasetError(
                f"no such file: {path}; the dataset is incomplete ({partial} exists): "
                "finish it with --resume"
            )
        raise DatasetError(f"no such file: {path}")
    if path.is_dir():
        raise DatasetError(f"{path} is a folder, not a dataset file")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path} is not an HDF5 file")
    try:
        file = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(f"cannot open {path}: {exc}") from exc
    try:
        _check_format(path, file)
    except DatasetError:
        file.close()
        raise
    return file


def _check_format(path: Path, file: h5py.File) -> None:
    if _plain(file.attrs.get("format")) != FORMAT_NAME:
        raise DatasetError(
            f"{path} is an HDF5 file but not a wirelessml dataset "
            f"(no format attribute {FORMAT_NAME!r})"
        )
    version = _plain(file.attrs.get("schema_version"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DatasetError(f"{path} has an invalid schema version {version!r}")
    if version > SCHEMA_VERSION:
        raise DatasetError(
            f"{path} schema version {version} is newer than this wirelessml reads "
            f"({SCHEMA_VERSION}); upgrade wirelessml"
        )


def stored_field(dataset: h5py.Dataset) -> StoredField:
    """Rebuild a field's :class:`StoredField` from its HDF5 dataset.

    Raises:
        DatasetError: The dataset lacks its attributes or they are invalid.
    """
    name = dataset.name.rsplit("/", 1)[-1]
    try:
        dims = json.loads(_plain(dataset.attrs["dims"]))
        spec = FieldSpec(
            name=name,
            shape=tuple(dataset.shape[1:]),
            dtype=dtype_name(dataset.dtype),
            unit=_plain(dataset.attrs["unit"]),
            dims=tuple(dims[1:]),
            description=_plain(dataset.attrs["description"]),
        )
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise DatasetError(
            f"{dataset.file.filename}: field {name!r} has invalid attributes ({exc})"
        ) from exc
    return StoredField(spec=spec, chunks=dataset.chunks, compression=dataset.compression)


def _info_from_file(path: Path, file: h5py.File) -> DatasetInfo:
    attrs = {key: _plain(value) for key, value in file.attrs.items()}
    missing = [key for key in ROOT_ATTRS if key not in attrs]
    if missing:
        raise DatasetError(f"{path} lacks root attribute(s) {', '.join(missing)}; it is corrupt")
    try:
        config = json.loads(attrs["config"])
        versions = json.loads(attrs["versions"])
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path} has an invalid config or versions attribute ({exc})") from exc
    fields = {
        name: stored_field(obj).spec for name, obj in file.items() if isinstance(obj, h5py.Dataset)
    }
    return DatasetInfo(
        path=path,
        format=attrs["format"],
        schema_version=int(attrs["schema_version"]),
        simulator=str(attrs["simulator"]),
        config=config,
        config_json=attrs["config"],
        seed=int(attrs["seed"]),
        versions=versions,
        num_samples=int(attrs["num_samples"]),
        num_committed=int(attrs["num_committed"]),
        complete=bool(attrs["complete"]),
        created_utc=str(attrs["created_utc"]),
        fields=fields,
        attrs={key: value for key, value in attrs.items() if key not in ROOT_ATTRS},
    )


def read_info(path: PathType) -> DatasetInfo:
    """Describe a dataset file (complete, or a ``.partial`` with ``complete=False``).

    Examples:
        >>> info = read_info("ofdm.h5")  # doctest: +SKIP
        >>> info.simulator, info.num_samples, list(info.fields)  # doctest: +SKIP
        ('ofdm', 1024, ['h', 'y', 'snr_db'])
    """
    path = Path(path)
    with open_dataset_file(path) as file:
        return _info_from_file(path, file)


def _check_names(path: Path, fields: dict[str, FieldSpec], names: Sequence[str]) -> None:
    for name in names:
        if name not in fields:
            raise DatasetError(f"{path} has no field {name!r} (fields: {', '.join(fields)})")


def read_arrays(
    path: PathType,
    names: Sequence[str] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> ArrayDict:
    """Read committed rows ``[start, stop)`` of some fields into memory.

    Args:
        path: Dataset file.
        names: Fields to read (default: all, in file order).
        start: First row (default 0).
        stop: One past the last row (default: the number of committed rows).

    Returns:
        Field name → array.

    Shapes:
        each array: ``[stop - start, *field.shape]``, the field's dtype.
    """
    path = Path(path)
    with open_dataset_file(path) as file:
        info = _info_from_file(path, file)
        names = list(info.fields) if names is None else list(names)
        _check_names(path, info.fields, names)
        stop = info.num_committed if stop is None else stop
        if not 0 <= start <= stop <= info.num_committed:
            raise DatasetError(
                f"{path}: rows [{start}, {stop}) are outside the committed rows "
                f"[0, {info.num_committed})"
            )
        return {name: file[name][start:stop] for name in names}


def require_fields(info: DatasetInfo, names: Sequence[str], family: str | None = None) -> None:
    """Check that a dataset comes from simulator ``family`` and has every field in ``names``.

    Raises:
        DatasetError: The simulator differs or a field is missing.
    """
    if family is not None and info.simulator != family:
        raise DatasetError(f"{info.path} holds {info.simulator!r} data; this needs {family!r} data")
    _check_names(info.path, info.fields, names)


def identity_difference(
    info: DatasetInfo,
    *,
    simulator: str,
    config: Any,
    seed: int,
    num_samples: int,
    fields: Mapping[str, FieldSpec] | None = None,
) -> str | None:
    """The first way a file differs from a requested source, or ``None`` if it matches.

    Used to check that a resumed file (or a shard to merge) holds the same data as asked.
    ``config`` is the parsed config JSON; ``fields`` are compared by name, shape and dtype.

    Examples:
        >>> identity_difference(info, simulator="ofdm", config=cfg, seed=1,  # doctest: +SKIP
        ...                     num_samples=64)
        'config differs in _data.snr_db: file has [0, 25], requested [0, 20]'
    """
    for key, wanted in (("simulator", simulator), ("seed", seed), ("num_samples", num_samples)):
        if getattr(info, key) != wanted:
            return f"{key} differs: file has {getattr(info, key)!r}, requested {wanted!r}"
    difference = config_difference(info.config, config)
    if difference is not None or fields is None:
        return difference
    stored = {name: (spec.shape, spec.dtype) for name, spec in info.fields.items()}
    wanted_fields = {name: (spec.shape, spec.dtype) for name, spec in fields.items()}
    if stored != wanted_fields:
        return f"fields differ: file has {stored}, requested {wanted_fields}"
    return None
