"""Registries: the explicit lists of what can be simulated (and later trained, evaluated).

One dict per kind, filled by a decorator at import of the defining module. Keys are stable
kebab-case names that serve as CLI choices. A miss lists the choices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wirelessml.errors import ConfigError

__all__ = [
    "MODELS",
    "SIMULATORS",
    "ModelEntry",
    "SimulatorEntry",
    "get_model",
    "get_simulator",
    "register_model",
    "register_simulator",
]


@dataclass(frozen=True)
class SimulatorEntry:
    """A data family: its config class, a builder and a one-line description.

    ``build(config, device)`` imports Sionna lazily, so listing and validating configs
    stays fast and works without Sionna.
    """

    name: str
    config_cls: type
    build: Callable[..., Any]
    description: str


SIMULATORS: dict[str, SimulatorEntry] = {}


def register_simulator(name: str, config_cls: type, description: str) -> Callable:
    """Decorator registering ``build(config, *, device)`` under ``name``."""

    def wrap(build: Callable[..., Any]) -> Callable[..., Any]:
        if name in SIMULATORS:
            raise RuntimeError(f"simulator {name!r} registered twice")
        SIMULATORS[name] = SimulatorEntry(name, config_cls, build, description)
        return build

    return wrap


def get_simulator(name: str) -> SimulatorEntry:
    """The registered simulator ``name``; a miss lists the known names."""
    _load_builtin()
    if name not in SIMULATORS:
        raise ConfigError(f"unknown simulator {name!r}; choose one of: {', '.join(sorted(SIMULATORS))}")
    return SIMULATORS[name]


@dataclass(frozen=True)
class ModelEntry:
    """A learned model: its config class, the ``nn.Module`` class built from it, and a description."""

    name: str
    config_cls: type
    model_cls: type
    description: str


MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, config_cls: type, description: str) -> Callable:
    """Class decorator registering an ``nn.Module`` built as ``cls(config)`` under ``name``.

    A class may be registered under several names with different config classes
    (e.g. AdaFortiTran and FortiTran).
    """

    def wrap(cls: type) -> type:
        if name in MODELS:
            raise RuntimeError(f"model {name!r} registered twice")
        MODELS[name] = ModelEntry(name, config_cls, cls, description)
        return cls

    return wrap


def get_model(name: str) -> ModelEntry:
    """The registered model ``name``; a miss lists the known names."""
    _load_builtin()
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def _load_builtin() -> None:
    """Import the modules that register the built-in entries (no Sionna import)."""
    import importlib.util

    import wirelessml.simulators  # noqa: F401

    if importlib.util.find_spec("wirelessml.models") is not None:
        import wirelessml.models  # noqa: F401
