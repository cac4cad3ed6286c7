"""The ``wirelessml`` command: thin click commands over :mod:`wirelessml.api`.

A mistake of the user (a bad flag, config field or file) prints one line,
``wirelessml: error: ...``, and exits with code 2, never with a traceback.
"""

from __future__ import annotations

import sys

import click

from wirelessml.cli.compress import compress_command
from wirelessml.cli.evaluate import evaluate_command
from wirelessml.cli.linksim import linksim_command
from wirelessml.cli.render import info_report
from wirelessml.cli.simulate import simulate_command
from wirelessml.cli.train import train_command
from wirelessml.errors import WirelessMLError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """A click group whose errors are one line on stderr and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.UsageError as exc:
            _fail(exc.format_message())
        except WirelessMLError as exc:
            _fail(str(exc))
        except (KeyboardInterrupt, click.exceptions.Abort):
            click.echo("wirelessml: interrupted (a simulation continues with --resume)", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)


def _fail(message: str) -> None:
    click.echo(f"wirelessml: error: {message}", err=True)
    sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirelessml")
def cli() -> None:
    """wirelessml: datasets, models and baselines for physical-layer ML, on Sionna.

    \b
    Typical flow:
      wirelessml list                                  what can be simulated
      wirelessml simulate ofdm --num-samples 2000 --out a.h5
      wirelessml info a.h5                             fields, units, config, completeness
    """


@cli.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
def info_command(path: str) -> None:
    """Show a dataset: format, fields with shapes and units, config, counts, completeness.

    PATH may also be an interrupted ``FILE.h5.partial``.
    """
    from wirelessml.api import info

    click.echo(info_report(info(path)))


@cli.command("list")
def list_command() -> None:
    """List what can be simulated (later also models and tasks)."""
    from wirelessml.api import list as list_entries

    for kind, entries in list_entries().items():
        click.echo(f"{kind}:")
        for name, description in entries:
            click.echo(f"  {name:<20} {description}")


cli.add_command(simulate_command)
cli.add_command(train_command)
cli.add_command(evaluate_command)
cli.add_command(linksim_command)
cli.add_command(compress_command)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="wirelessml")
