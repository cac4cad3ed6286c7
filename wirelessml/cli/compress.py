"""``wirelessml compress RUN --quantize MODE | --prune RATIO [--export onnx] --data D --out O``."""

from __future__ import annotations

import click

__all__ = ["compress_command"]


@click.command("compress")
@click.argument("run", type=click.Path(file_okay=False))
@click.option(
    "--quantize",
    type=click.Choice(["int8-weight", "int8-dynamic", "int8-static"]),
    default=None,
    help="int8 quantization of the real core (CPU).",
)
@click.option(
    "--prune",
    type=float,
    default=None,
    metavar="RATIO",
    help="Structured pruning: fraction of channels removed per group, in (0, 1).",
)
@click.option(
    "--finetune-epochs",
    type=int,
    default=0,
    show_default=True,
    help="Attention-distillation fine-tuning epochs after --prune (needs --train).",
)
@click.option(
    "--finetune-samples",
    type=int,
    default=None,
    help="Fine-tune on the first N samples of --train (default: all).",
)
@click.option(
    "--export",
    type=click.Choice(["onnx"]),
    default=None,
    help="Also write OUT/model.onnx (the real core), checked with onnxruntime.",
)
@click.option(
    "--data",
    required=True,
    type=click.Path(dir_okay=False),
    help="Dataset on which NMSE is measured before and after.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="New run folder.")
@click.option(
    "--train",
    type=click.Path(dir_okay=False),
    default=None,
    help="Training data for fine-tuning (and calibration, if given).",
)
@click.option(
    "--calibration",
    type=click.Path(dir_okay=False),
    default=None,
    help="int8-static calibration data (default: --train if given, else --data).",
)
@click.option("--calibration-samples", type=int, default=256, show_default=True)
@click.option(
    "--latency-frames", type=int, default=64, show_default=True, help="Frames per timed call."
)
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Intra-op threads of the whole job (timed at the count it ran with).",
)
@click.option("--device", default="cpu", show_default=True, help="Fine-tuning device.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted fine-tuning in OUT (checkpointed every 2 min).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def compress_command(run: str, quantize: str | None, prune: float | None, finetune_epochs: int,
                     finetune_samples: int | None, export: str | None, data: str, out: str,
                     train: str | None, calibration: str | None, calibration_samples: int,
                     latency_frames: int, threads: int | None, device: str, resume: bool,
                     quiet: bool) -> None:  # fmt: skip
    """Quantize, prune (+ distillation fine-tuning) or export a trained run.

    Writes OUT, a run folder that `wirelessml evaluate` loads like any other, with
    report.json and report.md: parameters, size on disk, FLOPs, CPU latency per frame
    (original and compressed timed alternately in this run), NMSE before and after.

    \b
    Examples:
      wirelessml compress runs/ada --quantize int8-static --data val.h5 --out runs/ada-int8
      wirelessml compress runs/ada --prune 0.5 --finetune-epochs 1 --train train.h5 \\
          --data val.h5 --out runs/ada-p50
      wirelessml compress runs/ada --export onnx --data val.h5 --out runs/ada-onnx
    """
    from wirelessml.efficiency import compress
    from wirelessml.efficiency.compress import to_markdown

    report = compress(
        run, data=data, out=out, quantize=quantize, prune=prune, export=export,
        finetune_epochs=finetune_epochs, train=train, finetune_samples=finetune_samples,
        calibration=calibration, calibration_samples=calibration_samples, device=device,
        latency_frames=latency_frames, threads=threads, progress=not quiet, resume=resume,
    )  # fmt: skip
    click.echo(to_markdown(report).split("\nDefinitions:")[0])
    click.echo(f"wrote {out} (run folder, report.json, report.md)")
