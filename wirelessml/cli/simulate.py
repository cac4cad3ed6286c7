"""``wirelessml simulate FAMILY``: build the config from file and ``--set``, run, show progress."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from wirelessml.config import config_from_dict, parse_overrides
from wirelessml.errors import ConfigError
from wirelessml.registry import SIMULATORS, _load_builtin

__all__ = ["build_config", "simulate_command"]

_load_builtin()


def _fields_help() -> str:
    """Every family's config fields, defaults and meanings, for ``--help``."""
    lines = ["\b", "Config fields (set with --set key=value or in --config FILE):"]
    for entry in SIMULATORS.values():
        lines.append(f"  {entry.name}:")
        for f in dataclasses.fields(entry.config_cls):
            if f.name == "version":
                continue
            default = f.default if f.default is not dataclasses.MISSING else "required"
            lines.append(f"    {f.name} = {default!r}")
            lines.append(f"        {f.metadata.get('help', '')}")
    return "\n".join(lines)


def _load_config_file(path: str) -> dict[str, Any]:
    """A JSON or TOML file of config fields (plain, or wirelessml's ``{_type, _data}`` form)."""
    text = Path(path).read_text()
    try:
        data = tomllib.loads(text) if path.endswith(".toml") else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: not valid {'TOML' if path.endswith('.toml') else 'JSON'} ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a table of config fields")
    return data.get("_data", data)


def build_config(family: str, config_file: str | None, overrides: tuple[str, ...]) -> Any:
    """The validated config of ``family`` from its defaults, a file and ``key=value`` items."""
    cls = SIMULATORS[family].config_cls
    data = _load_config_file(config_file) if config_file else {}
    data.pop("version", None)
    data.update(parse_overrides(cls, overrides))
    return config_from_dict(cls, data)


class _ProgressBar:
    """A rich progress bar with samples/s, on stderr."""

    def __init__(self, label: str, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} samples/s"), TimeElapsedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), disable=not enabled,
        )  # fmt: skip
        self._label = label
        self._task: Any = None
        self._start = 0

    def __enter__(self) -> _ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._progress.add_task(self._label, total=total, completed=done, rate="-")
            self._start = done
            return
        task = self._progress.tasks[self._task]
        elapsed = task.elapsed or 0.0
        rate = f"{(done - self._start) / elapsed:,.0f}" if elapsed > 0 else "-"
        self._progress.update(self._task, completed=done, rate=rate)


@click.command("simulate", epilog=_fields_help())
@click.argument("family", type=click.Choice(sorted(SIMULATORS)), metavar="FAMILY")
@click.option("--num-samples", "-n", type=int, required=True, help="Number of samples (>= 1).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True,
              help="Output HDF5 file (written as OUT.partial, renamed when complete).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every random draw; the same seed gives the same arrays.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same config and seed).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or TOML file of config fields.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Set a config field, e.g. --set channel_model=cdl-c --set 'snr_db=(0, 20)'.")
@click.option("--device", default=None, help="Torch device for Sionna, e.g. cpu or cuda:0.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def simulate_command(family: str, num_samples: int, out: str, seed: int, resume: bool,
                     overwrite: bool, config_file: str | None, overrides: tuple[str, ...],
                     device: str | None, quiet: bool) -> None:  # fmt: skip
    """Simulate a dataset of FAMILY (see `wirelessml list`) into an HDF5 file.

    \b
    Examples:
      wirelessml simulate ofdm -n 2000 -o train.h5
      wirelessml simulate ofdm -n 1800 -o test.h5 --seed 7 --set mode=grid
      wirelessml simulate ofdm -n 5000 -o cdl.h5 --set channel_model=cdl-c --set num_rx_ant=2
      wirelessml simulate ofdm -n 5000 -o cdl.h5 --set channel_model=cdl-c --set num_rx_ant=2 --resume
    """
    from wirelessml.api import simulate

    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other; choose one")
    config = build_config(family, config_file, overrides)
    mode = "resume" if resume else "overwrite" if overwrite else "create"
    t0 = time.perf_counter()
    # A live bar only on a terminal; logs get the one summary line below.
    with _ProgressBar(f"simulate {family}", enabled=not quiet and sys.stderr.isatty()) as bar:
        path = simulate(family, config, num_samples=num_samples, out=out, seed=seed, mode=mode,
                        device=device, on_progress=bar)  # fmt: skip
    elapsed = time.perf_counter() - t0
    click.echo(f"wrote {path}: {num_samples} samples in {elapsed:.1f} s "
               f"({num_samples / elapsed:,.0f} samples/s); inspect it with: wirelessml info {path}")
