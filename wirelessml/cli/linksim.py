"""``wirelessml linksim --estimator RUN ...``: BER/BLER of trained estimators in a Sionna link."""

from __future__ import annotations

import math
from pathlib import Path

import click

from wirelessml.errors import ConfigError

__all__ = ["linksim_command", "parse_ebno_range"]

_MODULATIONS = ("qpsk", "16qam", "64qam")
_CHANNELS = (*(f"tdl-{m}" for m in "abcde"), *(f"cdl-{m}" for m in "abcde"))
_BASELINES = ("perfect", "ls", "lmmse-genie")


def parse_ebno_range(text: str) -> tuple[float, ...]:
    """``START:STEP:STOP`` (STOP included), ``A,B,C`` or one value → increasing Eb/N0 [dB].

    Examples:
        >>> parse_ebno_range("0:2.5:5"), parse_ebno_range("3")
        ((0.0, 2.5, 5.0), (3.0,))
    """
    fix = "expected START:STEP:STOP with STEP > 0 (e.g. -5:1:20) or increasing values A,B,C"
    try:
        if ":" in text:
            start, step, stop = (float(v) for v in text.split(":"))
            if not (step > 0 and stop >= start and all(map(math.isfinite, (start, step, stop)))):
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            if count > 1000:
                raise ValueError
            values = tuple(round(start + i * step, 10) for i in range(count))
        else:
            values = tuple(float(v) for v in text.split(","))
        if (
            not values
            or not all(math.isfinite(v) for v in values)
            or any(a >= b for a, b in zip(values[:-1], values[1:], strict=False))
        ):
            raise ValueError
    except ValueError:
        raise ConfigError(f"--ebno-db {text!r} does not parse: {fix}") from None
    return values


@click.command("linksim")
@click.option(
    "--estimator",
    "estimators",
    multiple=True,
    type=click.Path(file_okay=False),
    metavar="RUN",
    help="Trained channel-estimation run folder (repeatable).",
)
@click.option(
    "--ebno-db",
    default="0:1:10",
    show_default=True,
    metavar="A:STEP:B",
    help="Eb/N0 points [dB]: START:STEP:STOP (STOP included) or A,B,C.",
)
@click.option(
    "--modulation",
    type=click.Choice(_MODULATIONS, case_sensitive=False),
    default="16qam",
    show_default=True,
)
@click.option(
    "--rate", type=float, default=0.5, show_default=True, help="LDPC code rate in (0, 1)."
)
@click.option(
    "--channel",
    type=click.Choice(_CHANNELS, case_sensitive=False),
    default="tdl-a",
    show_default=True,
    help="3GPP TR 38.901 link-level channel model.",
)
@click.option(
    "--doppler-hz",
    type=float,
    default=500.0,
    show_default=True,
    help="Maximum Doppler shift [Hz] (also the neural estimators' Doppler prior).",
)
@click.option(
    "--delay-spread-ns",
    type=float,
    default=200.0,
    show_default=True,
    help="RMS delay spread [ns] (also the neural estimators' delay-spread prior).",
)
@click.option(
    "--baselines",
    default="perfect,ls,lmmse-genie",
    show_default=True,
    metavar="A,B",
    help="Classical receivers to compare ('none' for none).",
)
@click.option("--target-block-errors", type=int, default=200, show_default=True)
@click.option(
    "--max-blocks",
    type=int,
    default=20_000,
    show_default=True,
    help="Codewords (= slots) at most per Eb/N0 point.",
)
@click.option(
    "--batch-size", type=int, default=100, show_default=True, help="Codewords per Sionna call."
)
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="torch intra-op threads (0: torch's default). Use 1 on a busy machine: "
    "Sionna's LDPC decoder slows down many-fold when its threads wait on each other.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="linksim",
    show_default=True,
    help="Folder for results.json/.md/.png; rerun with the same options to resume.",
)
def linksim_command(estimators: tuple[str, ...], ebno_db: str, modulation: str, rate: float,
                    channel: str, doppler_hz: float, delay_spread_ns: float, baselines: str,
                    target_block_errors: int, max_blocks: int, batch_size: int, device: str,
                    seed: int, threads: int, out: str) -> None:  # fmt: skip
    """BER and BLER of trained channel estimators inside a 5G-LDPC OFDM link (Sionna).

    Perfect CSI, LS and genie LMMSE run on the same bits, channels and noise as every
    --estimator, on the resource grid the estimators were trained on. Writes
    results.json, results.md and results.png into --out after every Eb/N0 point.

    \b
    Examples:
      wirelessml linksim --estimator runs/ada --ebno-db 4:1:14 --out linksim/
      wirelessml linksim --estimator runs/ada --estimator runs/forti --modulation 64qam \\
          --rate 0.75 --channel cdl-c --doppler-hz 100 --delay-spread-ns 100
    """
    from wirelessml.linksim.estimator import load_trained_run
    from wirelessml.linksim.link import LinkConfig, ReferenceLink
    from wirelessml.linksim.runner import baseline_systems, neural_system, run_linksim
    from wirelessml.simulators.ofdm_config import OFDMConfig

    names = [b.strip() for b in baselines.split(",") if b.strip() and b.strip() != "none"]
    if unknown := [b for b in names if b not in _BASELINES]:
        raise ConfigError(f"--baselines: unknown {unknown[0]!r}; choose from "
                          f"{', '.join(_BASELINES)} or 'none'")  # fmt: skip
    config = LinkConfig(
        modulation=modulation.lower(), rate=rate, channel=channel.lower(),
        delay_spread_ns=delay_spread_ns, doppler_hz=doppler_hz, ebno_db=parse_ebno_range(ebno_db),
        target_block_errors=target_block_errors, max_blocks=max_blocks, batch_size=batch_size,
        seed=seed,
    )  # fmt: skip
    if not estimators and not names:
        raise click.UsageError("nothing to simulate: give --estimator RUN and/or --baselines")
    if threads:
        import torch

        torch.set_num_threads(threads)
    runs = [load_trained_run(r, device) for r in estimators]
    grid = runs[0].config if runs else OFDMConfig()
    link = ReferenceLink(config, grid, device=device)
    labels = _labels(estimators)
    systems = baseline_systems(link, tuple(names))
    systems += [neural_system(link, r, label) for r, label in zip(runs, labels, strict=True)]
    click.echo(f"linksim: {', '.join(s.name for s in systems)}; n={link.n}, k={link.k}; "
               f"{len(config.ebno_db)} Eb/N0 points → {out}")  # fmt: skip
    with _Progress(config) as progress:
        results = run_linksim(link, systems, out=out, on_batch=progress.update)
    from wirelessml.linksim.report import markdown_report

    click.echo(markdown_report(results).split("## BER / BLER")[0].rstrip())
    click.echo(f"wrote {Path(out) / 'results.json'}, results.md, results.png")


def _labels(runs: tuple[str, ...]) -> list[str]:
    """Run folder names, or full paths where two folders share a name."""
    short = [Path(r).name or r for r in runs]
    return [s if short.count(s) == 1 else r for s, r in zip(short, runs, strict=True)]


class _Progress:
    """One rich progress bar per Eb/N0 point: the slowest running system's share of its
    stopping rule (block errors of the target, or blocks of the maximum)."""

    def __init__(self, config) -> None:  # noqa: ANN001
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.config = config
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())  # fmt: skip
        self.tasks: dict[int, int] = {}

    def __enter__(self) -> _Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def update(self, index: int, ebno_db: float, counts, running: list[str]) -> None:  # noqa: ANN001
        c = self.config
        if index not in self.tasks:
            self.tasks[index] = self.bar.add_task(f"Eb/N0 {ebno_db:5.1f} dB", total=1.0)
        done = min((max(counts[n].block_errors / c.target_block_errors,
                        counts[n].blocks / c.max_blocks) for n in running), default=1.0)  # fmt: skip
        errors = " ".join(f"{n}:{x.block_errors}/{x.blocks}" for n, x in counts.items())
        self.bar.update(self.tasks[index], completed=min(done, 1.0),
                        description=f"Eb/N0 {ebno_db:5.1f} dB  {errors}")  # fmt: skip
