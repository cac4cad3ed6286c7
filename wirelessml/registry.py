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
    "TASKS",
    "ModelEntry",
    "SimulatorEntry",
    "get_model",
    "get_simulator",
    "get_task",
    "register_model",
    "register_simulator",
    "register_task",
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


def _add(table: dict[str, Any], kind: str, name: str, value: Any) -> None:
    if name in table:
        raise RuntimeError(f"{kind} {name!r} registered twice")
    table[name] = value


def _get(table: dict[str, Any], kind: str, name: str) -> Any:
    _load_builtin()
    if name not in table:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}")
    return table[name]


def register_simulator(name: str, config_cls: type, description: str) -> Callable:
    """Decorator registering ``build(config, *, device)`` under ``name``."""

    def wrap(build: Callable[..., Any]) -> Callable[..., Any]:
        _add(SIMULATORS, "simulator", name, SimulatorEntry(name, config_cls, build, description))
        return build

    return wrap


def get_simulator(name: str) -> SimulatorEntry:
    """The registered simulator ``name``; a miss lists the known names."""
    return _get(SIMULATORS, "simulator", name)


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
        _add(MODELS, "model", name, ModelEntry(name, config_cls, cls, description))
        return cls

    return wrap


def get_model(name: str) -> ModelEntry:
    """The registered model ``name``; a miss lists the known names."""
    return _get(MODELS, "model", name)


TASKS: dict[str, type] = {}


def register_task(name: str) -> Callable:
    """Class decorator registering a task (built with no arguments) under ``name``."""

    def wrap(cls: type) -> type:
        _add(TASKS, "task", name, cls)
        return cls

    return wrap


def get_task(name: str) -> Any:
    """A new instance of the registered task ``name``; a miss lists the known names."""
    return _get(TASKS, "task", name)()


def _load_builtin() -> None:
    """Import the modules that register the built-in entries (no Sionna import)."""
    import wirelessml.models  # noqa: F401
    import wirelessml.simulators  # noqa: F401
    import wirelessml.tasks  # noqa: F401
