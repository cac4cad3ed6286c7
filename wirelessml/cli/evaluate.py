"""``wirelessml evaluate RUN... --data test.h5``: models and baselines side by side."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["evaluate_command"]


@click.command("evaluate")
@click.argument("runs", nargs=-1, type=click.Path(file_okay=False), metavar="RUN...")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="Test dataset.")
@click.option("--baselines", default=None, metavar="A,B",
              help="Comma-separated baselines (default: all of the task's; 'none' for none).")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Report folder (default: RUN/eval-<data name> of the first run).")
@click.option("--protocol-set", "protocol_overrides", multiple=True, metavar="KEY=VALUE",
              help="csi-prediction protocol field, e.g. --protocol-set 'drop_p=(0.05,)' "
              "--protocol-set \"noise_types=('awgn','phase')\".")  # fmt: skip
@click.option("--test-time-average", is_flag=True,
              help="radiomap: also score each model on the map's 8 rotations/reflections, "
              "averaged (an extra row; 8x the inference time).")  # fmt: skip
def evaluate_command(runs: tuple[str, ...], data: str, baselines: str | None, batch_size: int,
                     device: str, out: str | None, protocol_overrides: tuple[str, ...],
                     test_time_average: bool) -> None:  # fmt: skip
    """Evaluate trained runs against the task's classical baselines on a test file.

    Prints the task's metric per condition (channel estimation: NMSE per SNR, Doppler
    and delay spread; CSI prediction: the robustness/generalization protocol; radio maps:
    RMSE per scene) and the inference time per frame of every estimator (measured in the
    same run), and writes report.json, report.md and the task's plots.

    \b
    Examples:
      wirelessml evaluate runs/ada --data test.h5
      wirelessml evaluate runs/ada runs/forti --data test.h5 --baselines ls,lmmse-genie
      wirelessml evaluate runs/ru runs/g2 --data rm-test.h5 --test-time-average
    """
    from wirelessml.evaluate import evaluate, format_gaps, format_table, write_reports
    from wirelessml.evaluate.report import conditions
    from wirelessml.registry import get_task

    if not runs:
        raise click.UsageError("give at least one RUN folder (made by wirelessml train)")
    names = None if baselines is None else [
        b.strip() for b in baselines.split(",") if b.strip() and b.strip() != "none"
    ]  # fmt: skip
    protocol = None
    if protocol_overrides:
        from wirelessml.config import config_from_dict, parse_overrides
        from wirelessml.evaluate.csi_protocol import CSIProtocolConfig

        fields = {"batch_size": batch_size, **parse_overrides(CSIProtocolConfig, protocol_overrides)}
        protocol = config_from_dict(CSIProtocolConfig, fields)
    result = evaluate(list(runs), data, baselines=names, batch_size=batch_size, device=device,
                      protocol=protocol, test_time_average=test_time_average)  # fmt: skip
    folder = Path(out) if out else Path(runs[0]) / f"eval-{Path(data).stem}"
    if result.get("protocol"):  # csi-prediction: regular / robustness / generalization
        from wirelessml.evaluate.csi_protocol import format_protocol, write_protocol_reports

        written = write_protocol_reports(result, folder)
        click.echo(format_protocol(result))
        click.echo("wrote " + ", ".join(str(p) for p in written))
        return
    written = write_reports(result, folder)
    task = get_task(result["task"])
    if hasattr(task, "write_examples"):  # radiomap: a PNG per example map
        written += task.write_examples(list(runs), data, folder, device=device)
    for condition in conditions(result):
        click.echo(format_table(result, condition) + "\n")
    if gap_lines := format_gaps(result):
        click.echo(gap_lines + "\n")
    click.echo("wrote " + ", ".join(str(p) for p in written))
