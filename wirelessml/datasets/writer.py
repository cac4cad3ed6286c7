"""Write a dataset file atomically and resumably, one committed block at a time.

Rows go to ``<path>.partial``; the root attribute ``num_committed`` is advanced only after
the rows are flushed, so a ``kill -9`` at any moment leaves a file whose first
``num_committed`` rows are valid. :meth:`DatasetWriter.finish` marks the file complete and
renames it to ``<path>``, so ``<path>`` never exists before it is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import h5py
import numpy as np
import torch

from wirelessml._typing import PathType
from wirelessml.config import check_field
from wirelessml.datasets.reader import DatasetInfo, identity_difference, read_info
from wirelessml.datasets.schema import (
    FORMAT_NAME,
    SAMPLE_DIM,
    SCHEMA_VERSION,
    FieldSpec,
    library_versions,
    normalize_attrs,
)
from wirelessml.errors import ConfigError, DatasetError

__all__ = ["DatasetWriter"]

WriteMode = Literal["create", "resume", "overwrite"]
_COMPRESSIONS = (None, "gzip", "lzf")


class DatasetWriter:
    """Context manager that writes a dataset file in committed blocks.

    Args:
        path: Final file path (``.h5``); work happens in ``<path>.partial`` beside it.
        simulator: Registry name of the simulator that made the data (``"ofdm"``).
        config_json: The resolved simulator config as JSON (stored verbatim).
        seed: The seed that, with the config, reproduces the data.
        num_samples: Total number of samples the file will hold.
        fields: One :class:`FieldSpec` per stored array.
        attrs: Extra root attributes (str, int, float, bool, numpy arrays, lists of numbers).
        mode: ``"create"`` (default) refuses existing files; ``"overwrite"`` replaces them;
            ``"resume"`` continues ``<path>.partial`` if its identity matches the request.
        chunk_samples: Samples per HDF5 chunk (default 64).
        compression: ``None`` (default), ``"gzip"`` or ``"lzf"``. CSI is noise-like and
            barely compresses, so the default stores raw chunks. The ``.partial`` file is
            always uncompressed (rewriting a compressed chunk moves it on disk, which a
            ``kill -9`` can corrupt); :meth:`finish` writes the compressed copy.

    Shapes:
        each ``block[name]`` passed to :meth:`write`: ``[n, *spec.shape]``, castable to
        ``spec.dtype`` (complex64 stays complex64, stored natively by h5py).

    Examples:
        >>> spec = FieldSpec(name="snr_db", shape=(), dtype="float32", unit="dB", dims=(),
        ...                  description="SNR")
        >>> with DatasetWriter("/tmp/doc.h5", simulator="demo", config_json="{}", seed=0,
        ...                    num_samples=4, fields=[spec], mode="overwrite") as w:
        ...     w.write({"snr_db": np.zeros(4, np.float32)})
        ...     w.finish().name
        'doc.h5'
    """

    def __init__(
        self,
        path: PathType,
        *,
        simulator: str,
        config_json: str,
        seed: int,
        num_samples: int,
        fields: Sequence[FieldSpec],
        attrs: Mapping[str, Any] | None = None,
        mode: WriteMode = "create",
        chunk_samples: int = 64,
        compression: str | None = None,
    ) -> None:
        self._path = Path(path)
        self._partial = self._path.with_name(self._path.name + ".partial")
        self._compressing = self._path.with_name(self._path.name + ".compressing")
        self._request = _validated_request(
            simulator, config_json, seed, num_samples, fields, mode, chunk_samples, compression
        )
        self._fields = {spec.name: spec for spec in fields}
        self._config_json = config_json
        self._attrs = normalize_attrs(attrs or {})
        self._num_samples = num_samples
        self._chunk_samples = chunk_samples
        self._compression = compression
        self._file: h5py.File | None = None
        self._handles: dict[str, h5py.Dataset] = {}
        self._finished = False
        self._num_committed = 0
        self._open(mode)

    # -- opening -----------------------------------------------------------------------

    def _open(self, mode: WriteMode) -> None:
        if mode == "create" and (self._path.exists() or self._partial.exists()):
            existing = self._path if self._path.exists() else self._partial
            raise DatasetError(
                f"{existing} exists; use --resume to continue it or --overwrite to replace it"
            )
        if mode == "resume" and self._partial.exists():
            self._resume_partial()
        elif mode == "resume" and self._path.exists():
            self._resume_complete()
        else:
            _check_writable(self._path)
            if mode == "overwrite":
                for stale in (self._partial, self._compressing, self._path):
                    stale.unlink(missing_ok=True)
            self._create()

    def _resume_partial(self) -> None:
        info = self._read_same_source(self._partial)
        _check_writable(self._path)
        try:
            self._file = h5py.File(self._partial, "r+", rdcc_nbytes=0)
            self._handles = {name: self._file[name] for name in self._fields}
        except OSError as exc:
            raise DatasetError(f"cannot resume {self._partial}: {exc}") from exc
        self._num_committed = info.num_committed

    def _resume_complete(self) -> None:
        info = self._read_same_source(self._path)
        if not info.complete:
            raise DatasetError(f"{self._path} is marked incomplete; use --overwrite to replace it")
        self._num_committed = info.num_samples
        self._finished = True

    def _read_same_source(self, path: Path) -> DatasetInfo:
        try:
            info = read_info(path)
        except DatasetError as exc:
            raise DatasetError(f"cannot resume: {exc}; use --overwrite to replace it") from exc
        difference = identity_difference(info, **self._request, fields=self._fields)
        if difference is not None:
            raise DatasetError(f"cannot resume {path}: {difference}; use --overwrite to replace it")
        return info

    def _create(self) -> None:
        try:
            # No chunk cache: blocks are written once, whole chunks at a time; the cache
            # would only add a copy.
            file = h5py.File(self._partial, "w-", rdcc_nbytes=0)
        except OSError as exc:
            self._partial.unlink(missing_ok=True)
            raise DatasetError(f"cannot write {self._path}: {exc}") from exc
        try:
            self._write_root_attrs(file)
            for spec in self._fields.values():
                self._create_field(file, spec)
            file.flush()
        except BaseException:
            file.close()
            self._partial.unlink(missing_ok=True)
            raise
        self._file = file
        self._handles = {name: file[name] for name in self._fields}

    def _write_root_attrs(self, file: h5py.File) -> None:
        root = file.attrs
        root["format"] = FORMAT_NAME
        root["schema_version"] = np.int64(SCHEMA_VERSION)
        root["simulator"] = self._request["simulator"]
        root["config"] = self._config_json
        root["seed"] = np.int64(self._request["seed"])
        root["num_samples"] = np.int64(self._num_samples)
        root["num_committed"] = np.int64(0)
        root["complete"] = False
        root["versions"] = json.dumps(library_versions(), sort_keys=True)
        root["created_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, value in self._attrs.items():
            root[key] = value

    def _create_field(self, file: h5py.File, spec: FieldSpec) -> None:
        # Allocate every chunk now (sparsely, no fill): later writes then touch only raw
        # data and one attribute, never HDF5's chunk index, which keeps kill -9 harmless.
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        dataset = file.create_dataset(
            spec.name,
            shape=(self._num_samples, *spec.shape),
            dtype=spec.numpy_dtype,
            chunks=(min(self._chunk_samples, self._num_samples), *spec.shape),
            dcpl=dcpl,
        )
        dataset.attrs["unit"] = spec.unit
        dataset.attrs["dims"] = json.dumps([SAMPLE_DIM, *spec.dims])
        dataset.attrs["description"] = spec.description

    # -- writing -----------------------------------------------------------------------

    def write(self, block: Mapping[str, np.ndarray | torch.Tensor]) -> None:
        """Append ``n >= 1`` samples of every field and commit them.

        Raises:
            DatasetError: A field is missing or unknown, lengths differ, a shape or dtype
                does not match its spec, the block overflows ``num_samples``, or the writer
                is closed.
        """
        file = self._require_open()
        arrays = self._check_block(block)
        start = self._num_committed
        stop = start + len(next(iter(arrays.values())))
        # write_direct on handles cached at open: per-field lookups and h5py's high-level
        # slice assignment cost about as much Python per block as the copy itself.
        for name, array in arrays.items():
            rows = np.s_[start:stop]
            self._handles[name].write_direct(np.ascontiguousarray(array), dest_sel=rows)
        file.flush()
        # Advance the count only once the rows are on disk; when write() returns, they count.
        file.attrs["num_committed"] = np.int64(stop)
        file.flush()
        self._num_committed = stop

    def _require_open(self) -> h5py.File:
        if self._finished:
            raise DatasetError(f"{self._path} is already finished; nothing more can be written")
        if self._file is None:
            raise DatasetError(f"the writer of {self._path} is closed; reopen it with --resume")
        return self._file

    def _check_block(self, block: Mapping[str, np.ndarray | torch.Tensor]) -> dict[str, np.ndarray]:
        known = ", ".join(self._fields)
        for name in block:
            if name not in self._fields:
                raise DatasetError(f"block has unknown field {name!r} (fields: {known})")
        arrays = {}
        for name, spec in self._fields.items():
            if name not in block:
                raise DatasetError(f"block lacks field {name!r} (fields: {known})")
            value = block[name]
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            arrays[name] = spec.coerce(value)
        lengths = {name: len(array) for name, array in arrays.items()}
        n = next(iter(lengths.values()))
        if len(set(lengths.values())) != 1 or n < 1:
            counts = ", ".join(f"{name} has {count}" for name, count in lengths.items())
            raise DatasetError(f"block fields need the same number n >= 1 of samples: {counts}")
        if n > self.remaining:
            raise DatasetError(
                f"writing {n} samples would exceed num_samples={self._num_samples} "
                f"({self._num_committed} committed, {self.remaining} remaining)"
            )
        return arrays

    # -- finishing ---------------------------------------------------------------------

    def finish(self) -> Path:
        """Mark the file complete, close it and rename it to its final path.

        Returns:
            The final path. A no-op (returning the path) when already finished.

        Raises:
            DatasetError: Not every sample has been written, or the writer is closed.
        """
        if self._finished:
            return self._path
        file = self._require_open()
        if self._num_committed != self._num_samples:
            raise DatasetError(
                f"cannot finish {self._path}: {self._num_committed} of {self._num_samples} "
                "samples written"
            )
        if self._compression is None:
            file.attrs["complete"] = True
            file.flush()
            self.close()
            source = self._partial
        else:
            self.close()
            source = self._compressing
            try:
                _compressed_copy(self._partial, source, self._compression)
            except BaseException:
                source.unlink(missing_ok=True)
                raise
        _fsync(source)
        os.replace(source, self._path)
        self._partial.unlink(missing_ok=True)
        _fsync(self._path.parent)
        self._finished = True
        return self._path

    def close(self) -> None:
        """Close without finishing; ``<path>.partial`` stays for a later resume."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._handles = {}

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Never finish implicitly: a block loop that broke early must not look complete.
        self.close()

    # -- state -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """Final path of the dataset (the working file is ``<path>.partial``)."""
        return self._path

    @property
    def num_samples(self) -> int:
        """Total number of samples the file will hold."""
        return self._num_samples

    @property
    def num_committed(self) -> int:
        """Samples written and committed so far."""
        return self._num_committed

    @property
    def remaining(self) -> int:
        """Samples still to write."""
        return self._num_samples - self._num_committed

    @property
    def done(self) -> bool:
        """Whether every sample is committed (then only :meth:`finish` is left)."""
        return self._num_committed == self._num_samples

    def __repr__(self) -> str:
        return (
            f"DatasetWriter({str(self._path)!r}, num_committed={self._num_committed}, "
            f"num_samples={self._num_samples}, finished={self._finished})"
        )


def _validated_request(
    simulator: str,
    config_json: str,
    seed: int,
    num_samples: int,
    fields: Sequence[FieldSpec],
    mode: str,
    chunk_samples: int,
    compression: str | None,
) -> dict[str, Any]:
    """Check the writer's arguments; return the identity a resumed file must match."""

    def check(ok: bool, field: str, value: object, allowed: str) -> None:
        check_field(ok, "DatasetWriter", field, value, allowed)

    def is_int(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    check(isinstance(simulator, str) and bool(simulator), "simulator", simulator, "a name")
    check(is_int(seed) and -(2**63) <= seed < 2**63, "seed", seed, "an int64")
    check(is_int(num_samples) and num_samples >= 1, "num_samples", num_samples, "an int >= 1")
    check(
        is_int(chunk_samples) and chunk_samples >= 1, "chunk_samples", chunk_samples, "an int >= 1"
    )
    check(compression in _COMPRESSIONS, "compression", compression, "None, 'gzip' or 'lzf'")
    check(mode in ("create", "resume", "overwrite"), "mode", mode, "create, resume or overwrite")
    names = [getattr(spec, "name", None) for spec in fields]
    check(
        bool(names)
        and all(isinstance(s, FieldSpec) for s in fields)
        and len(set(names)) == len(names),
        "fields",
        names,
        "one or more FieldSpec with distinct names",
    )
    try:
        config = json.loads(config_json)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"DatasetWriter config_json is not valid JSON ({exc})") from exc
    return {"simulator": simulator, "config": config, "seed": seed, "num_samples": num_samples}


def _check_writable(path: Path) -> None:
    """Create ``path``'s folder if needed and make sure files can be created in it."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DatasetError(f"cannot write {path}: {exc.filename} is a file, not a folder") from exc
    except OSError as exc:
        raise DatasetError(f"cannot write {path}: {exc.strerror or exc} ({exc.filename})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"cannot write {path}: folder {folder} is not writable")


def _compressed_copy(source: Path, target: Path, compression: str) -> None:
    """Copy a finished ``.partial`` into a compressed, complete file, one chunk at a time.

    A kill during the copy leaves ``source`` intact: resuming finds it done and copies again.
    """
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["complete"] = True
        for name, dataset in src.items():
            out = dst.create_dataset(
                name,
                shape=dataset.shape,
                dtype=dataset.dtype,
                chunks=dataset.chunks,
                compression=compression,
            )
            for key, value in dataset.attrs.items():
                out.attrs[key] = value
            step = dataset.chunks[0]
            for start in range(0, dataset.shape[0], step):
                out[start : start + step] = dataset[start : start + step]


def _fsync(path: Path) -> None:
    """Flush a file's or folder's metadata to disk so the rename survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
