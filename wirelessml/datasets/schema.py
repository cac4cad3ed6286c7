"""The on-disk schema of a wirelessml dataset: format name, version, and one field's spec.

A dataset file is one HDF5 root group of named arrays, sample axis first. The root attributes
(:data:`ROOT_ATTRS`) say what made the file; each array carries ``unit``, ``dims`` and
``description`` attributes (:data:`FIELD_ATTRS`) so the file describes itself.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import wirelessml
from wirelessml.errors import ConfigError, DatasetError

__all__ = [
    "FIELD_ATTRS",
    "FORMAT_NAME",
    "NUMERIC_DTYPES",
    "ROOT_ATTRS",
    "SAMPLE_DIM",
    "SCHEMA_VERSION",
    "FieldSpec",
    "config_difference",
    "dtype_name",
    "library_versions",
    "normalize_attrs",
]

FORMAT_NAME = "wirelessml-dataset"
"""Value of the root ``format`` attribute that marks a file as ours."""

SCHEMA_VERSION = 1
"""Version of the layout written by this code; readers refuse newer versions."""

NUMERIC_DTYPES = ("complex64", "float32", "int64")
"""Numeric dtypes a field may have; fixed-length ASCII ``"S<n>"`` is allowed too."""

SAMPLE_DIM = "sample"
"""Name of the leading (sample) axis; reserved, so no per-sample axis may use it."""

ROOT_ATTRS = (
    "format",
    "schema_version",
    "simulator",
    "config",
    "seed",
    "num_samples",
    "num_committed",
    "complete",
    "versions",
    "created_utc",
)
"""Root attributes the writer owns; user ``attrs`` may not reuse these names."""

FIELD_ATTRS = ("unit", "dims", "description")
"""Attributes stored on every field's HDF5 dataset."""

_VERSIONED = ("sionna", "torch", "h5py", "numpy")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BYTES = re.compile(r"^S[1-9][0-9]*$")


def dtype_name(dtype: np.dtype) -> str:
    """Schema name of a numpy dtype: ``"complex64"``, ``"float32"``, ``"int64"`` or ``"S<n>"``.

    numpy calls ``S16`` ``"bytes128"``; the schema uses the ``"S16"`` spelling.
    """
    dtype = np.dtype(dtype)
    return f"S{dtype.itemsize}" if dtype.kind == "S" else dtype.name


@dataclass(frozen=True, kw_only=True)
class FieldSpec:
    """One named array of a dataset, described per sample (without the sample axis).

    Args:
        name: Field name, a Python identifier (``"h"``, ``"snr_db"``).
        shape: Per-sample shape; ``()`` for a scalar per sample.
        dtype: ``"complex64"``, ``"float32"``, ``"int64"`` or fixed-length ASCII ``"S<n>"``.
        unit: Physical unit (``"dB"``, ``"ns"``, ``"Hz"``), ``"1"`` if dimensionless, or ``""``.
        dims: One name per per-sample axis (``("num_rx_ant", "num_subcarriers")``).
        description: One sentence saying what the field holds.

    Shapes:
        stored array: ``[sample, *shape]``, ``dtype``.

    Examples:
        >>> spec = FieldSpec(name="h", shape=(2, 72), dtype="complex64", unit="1",
        ...                  dims=("num_rx_ant", "num_subcarriers"), description="channel")
        >>> spec.numpy_dtype, spec.shape
        (dtype('complex64'), (2, 72))
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    unit: str
    dims: tuple[str, ...]
    description: str

    def __post_init__(self) -> None:
        where = f"FieldSpec {self.name!r}" if isinstance(self.name, str) else "FieldSpec"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"{where}: name={self.name!r} is not allowed: expected a Python identifier"
            )
        self._check_shape(where)
        if not isinstance(self.dtype, str) or not (
            self.dtype in NUMERIC_DTYPES or _BYTES.match(self.dtype)
        ):
            raise ConfigError(
                f"{where}: dtype={self.dtype!r} is not allowed: expected one of "
                f"{', '.join(NUMERIC_DTYPES)} or fixed-length ASCII 'S<n>' (e.g. 'S16')"
            )
        for attr in ("unit", "description"):
            if not isinstance(getattr(self, attr), str):
                raise ConfigError(
                    f"{where}: {attr}={getattr(self, attr)!r} is not allowed: expected a string"
                )
        self._check_dims(where)

    def _check_shape(self, where: str) -> None:
        shape = self.shape
        ok = isinstance(shape, tuple | list) and all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1 for s in shape
        )
        if not ok:
            raise ConfigError(
                f"{where}: shape={shape!r} is not allowed: expected a tuple of positive ints "
                "(the per-sample shape, () for a scalar)"
            )
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))

    def _check_dims(self, where: str) -> None:
        dims = self.dims
        ok = isinstance(dims, tuple | list) and all(
            isinstance(d, str) and _NAME.match(d) and d != SAMPLE_DIM for d in dims
        )
        if not ok or len(set(dims)) != len(dims):
            raise ConfigError(
                f"{where}: dims={dims!r} is not allowed: expected distinct identifiers other "
                f"than {SAMPLE_DIM!r} (the sample axis is implicit)"
            )
        if len(dims) != len(self.shape):
            raise ConfigError(
                f"{where}: dims={tuple(dims)!r} is not allowed: expected one name per axis of "
                f"shape {self.shape} ({len(self.shape)} names)"
            )
        object.__setattr__(self, "dims", tuple(dims))

    @property
    def numpy_dtype(self) -> np.dtype:
        """The field's dtype as a :class:`numpy.dtype`."""
        return np.dtype(self.dtype)

    @property
    def is_text(self) -> bool:
        """Whether the field holds fixed-length ASCII strings (``"S<n>"``)."""
        return self.dtype.startswith("S")

    def coerce(self, array: np.ndarray) -> np.ndarray:
        """``array`` (a block of samples) cast to this field's dtype, checking its shape.

        Numeric arrays must cast within their kind (float64 → float32 is fine, float →
        int is not); text fields take ASCII ``str`` or ``bytes`` no longer than ``S<n>``.

        Shapes:
            array: ``[n, *self.shape]``, any castable dtype → ``[n, *self.shape]``, ``self.dtype``.

        Raises:
            DatasetError: Naming the field, the shape or dtype given and the one expected.
        """
        array = np.asarray(array)
        if array.ndim != len(self.shape) + 1 or array.shape[1:] != self.shape:
            expected = "(" + ", ".join(["n", *map(str, self.shape)]) + ")"
            raise DatasetError(f"field {self.name!r}: got shape {array.shape}, expected {expected}")
        target = self.numpy_dtype
        if self.is_text and array.dtype.kind == "U":
            try:
                array = np.char.encode(array, "ascii")
            except UnicodeEncodeError as exc:
                raise DatasetError(f"field {self.name!r} holds non-ASCII text ({exc})") from exc
        if self.is_text:
            ok = array.dtype.kind == "S" and array.dtype.itemsize <= target.itemsize
        else:
            ok = np.can_cast(array.dtype, target, casting="same_kind")
        if not ok:
            raise DatasetError(
                f"field {self.name!r}: got dtype {array.dtype}, expected {self.dtype}"
            )
        return array.astype(target, copy=False)


def library_versions() -> dict[str, str]:
    """Versions of wirelessml and the libraries that shape a dataset (for the ``versions`` attr).

    Read from package metadata, so Sionna is not imported; ``"not installed"`` where missing.
    """
    versions = {"wirelessml": wirelessml.__version__}
    for name in _VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def normalize_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Check extra root attributes and convert them to values HDF5 stores as they are.

    Allowed values: str, int, float, bool, numpy arrays and lists of numbers.

    Raises:
        ConfigError: A key reuses a name from :data:`ROOT_ATTRS` or a value has another type.
    """
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if not isinstance(key, str) or not key or key in ROOT_ATTRS:
            raise ConfigError(
                f"attrs key {key!r} is not allowed: expected a non-empty string other than "
                f"the reserved {', '.join(ROOT_ATTRS)}"
            )
        if isinstance(value, str | bool | float):
            out[key] = value
        elif isinstance(value, int):
            out[key] = np.int64(value)
        else:
            array = (
                np.asarray(value)
                if isinstance(value, list | tuple | np.ndarray | np.generic)
                else None
            )
            if array is None or array.dtype.kind not in "biuf":
                raise ConfigError(
                    f"attrs[{key!r}]={value!r} is not allowed: expected str, int, float, bool, "
                    "a numpy array or a list of numbers"
                )
            out[key] = array
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def config_difference(stored: Any, requested: Any, _where: str = "") -> str | None:
    """The first difference between two parsed config JSONs, or ``None`` if they are equal.

    Dicts are compared key by key (recursively); any other values as a whole.

    Examples:
        >>> config_difference({"_data": {"snr_db": [0, 25]}}, {"_data": {"snr_db": [0, 20]}})
        'config differs in _data.snr_db: file has [0, 25], requested [0, 20]'
    """
    if isinstance(stored, dict) and isinstance(requested, dict):
        keys = [*stored, *(key for key in requested if key not in stored)]
        for key in keys:
            where = f"{_where}.{key}" if _where else str(key)
            if key not in stored or key not in requested:
                has = _show(stored[key]) if key in stored else "no such key"
                wants = _show(requested[key]) if key in requested else "no such key"
                return f"config differs in {where}: file has {has}, requested {wants}"
            found = config_difference(stored[key], requested[key], where)
            if found is not None:
                return found
        return None
    if stored == requested:
        return None
    where = f" in {_where}" if _where else ""
    return f"config differs{where}: file has {_show(stored)}, requested {_show(requested)}"
