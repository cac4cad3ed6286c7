"""``compress``: a trained run in, a compressed run folder and its report out.

Steps: load the run (:func:`wirelessml.train.run.load_run`); measure the original on
``data``; prune (+ distillation fine-tuning on ``train``) and/or quantize (calibrated on
``calibration`` samples) and/or export the real core to ONNX; measure again, the original
and the compressed model side by side in the same process; write ``out`` (a normal run
folder that ``wirelessml evaluate`` loads) with ``report.json`` and ``report.md``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
import time
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import torch

from wirelessml._typing import PathType
from wirelessml.datasets import read_info, require_fields
from wirelessml.efficiency.core import CompressionError, real_inputs
from wirelessml.efficiency.export import export_onnx
from wirelessml.efficiency.measure import (
    MEASURE_DEFINITIONS,
    evaluate_metric,
    flops_per_frame,
    latency,
    load_batches,
    num_threads,
    parameters,
)
from wirelessml.efficiency.prune import DistillConfig, PruneConfig, distill_finetune, prune_
from wirelessml.efficiency.quantize import Int8StaticConfig, quantize_, quantize_config
from wirelessml.efficiency.runfolder import (
    COMPRESSION_KEY,
    compression_meta,
    save_compressed_weights,
)
from wirelessml.train.checkpoint import CHECKPOINT_DIR
from wirelessml.train.run import (
    REPORT_FILE,
    RUN_FILE,
    WEIGHTS_FILE,
    create_run_folder,
    load_run,
    write_json_atomic,
    write_text_atomic,
)

__all__ = ["compress"]


@contextmanager
def _bar(enabled: bool, description: str, total: float | None):
    if not enabled:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True) as bar:  # fmt: skip
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def _check_request(run: Path, out: Path, quantize: str | None, prune: float | None,
                   export: str | None, finetune_epochs: int, train: PathType | None,
                   resume: bool = False) -> None:  # fmt: skip
    if quantize is None and prune is None and export is None:
        raise CompressionError("nothing to do: give --quantize, --prune or --export")
    if prune is not None:
        PruneConfig(ratio=prune)  # the one-line range error
    if quantize is not None:
        quantize_config(quantize)
    if export not in (None, "onnx"):
        raise CompressionError(f"unknown export format {export!r}; choose from: onnx")
    if export is not None and quantize is not None:
        raise CompressionError("--export onnx writes the float (or pruned) real core; run it "
                               "without --quantize")  # fmt: skip
    if finetune_epochs < 0:
        raise CompressionError(f"--finetune-epochs {finetune_epochs}: expected >= 0")
    if finetune_epochs and prune is None:
        raise CompressionError("--finetune-epochs fine-tunes a pruned model: add --prune RATIO")
    if finetune_epochs and train is None:
        raise CompressionError("--finetune-epochs needs training data: add --train train.h5")
    needed = {"torchao": quantize, "torch_pruning": prune, "onnx": export, "onnxruntime": export,
              "onnxscript": export}  # fmt: skip
    missing = [m for m, used in needed.items() if used is not None and find_spec(m) is None]
    if missing:
        raise CompressionError(f"this needs {', '.join(missing)}: pip install "
                               "'wirelessml[efficiency]'")  # fmt: skip
    if out.resolve() == run.resolve():
        raise CompressionError("--out must be a new folder, not the run being compressed")
    if resume and not (out / CHECKPOINT_DIR).is_dir():
        raise CompressionError(f"--resume: {out} holds no fine-tuning checkpoint to resume; "
                               "run without --resume")  # fmt: skip
    if out.exists() and (not out.is_dir() or {p.name for p in out.iterdir()} - {CHECKPOINT_DIR}):
        raise CompressionError(f"--out {out} exists and is not empty; choose a new folder")
    if not resume and (out / CHECKPOINT_DIR).is_dir():
        raise CompressionError(f"--out {out} holds an interrupted fine-tuning: add --resume "
                               "to continue it, or choose a new folder")  # fmt: skip


def compress(
    run: PathType,
    *,
    data: PathType,
    out: PathType,
    quantize: str | None = None,
    prune: float | None = None,
    export: str | None = None,
    finetune_epochs: int = 0,
    train: PathType | None = None,
    finetune_samples: int | None = None,
    calibration: PathType | None = None,
    calibration_samples: int = 256,
    device: str = "cpu",
    latency_frames: int = 64,
    latency_repeats: int = 21,
    threads: int | None = None,
    progress: bool = True,
    resume: bool = False,
) -> dict[str, Any]:
    """Compress the model of ``run`` and write the run folder ``out`` with its report.

    Args:
        run: A run folder made by ``wirelessml train``.
        data: Dataset on which the task metric is measured before and after.
        out: New run folder.
        quantize: ``int8-weight``, ``int8-dynamic`` or ``int8-static`` (CPU).
        prune: Fraction of channels to remove per group, in (0, 1).
        export: ``"onnx"``: also write ``out/model.onnx`` (the real core) and check it.
        finetune_epochs: Distillation fine-tuning epochs after pruning (needs ``train``).
        train, finetune_samples: Fine-tuning data and how many of its first samples.
        calibration, calibration_samples: int8-static calibration data (default: ``train``
            if given, else ``data``) and how many of its first samples.
        device: Where fine-tuning runs (quantized models and timing: CPU).
        latency_frames, latency_repeats: Timing batch and repeats.
        threads: Intra-op threads of the whole job (evaluation, fine-tuning, timing; default:
            unchanged): kernels set up at one thread count and timed at another mislead.
        progress: Show progress bars.
        resume: Continue the interrupted distillation fine-tuning whose checkpoint is in
            ``out`` (saved every 2 minutes and after each epoch; same request required).

    Returns:
        The report (also in ``out/report.json``).

    Raises:
        CompressionError, ConfigError, DatasetError, RunError: one line each.
    """
    run, out = Path(run), Path(out)
    _check_request(run, out, quantize, prune, export, finetune_epochs, train, resume)
    if calibration_samples < 1:
        raise CompressionError(f"--calibration-samples {calibration_samples}: expected >= 1")
    # The whole job at the timed thread count: kernels set up at one count and timed at
    # another mislead (an int8-static comparison timed with one thread after a two-thread
    # evaluation gave 1.31x, 2.08x in a one-thread process; docs/benchmarks.md).
    with num_threads(threads):
        task, model, meta = load_run(run, "cpu")
        if COMPRESSION_KEY in meta:
            raise CompressionError(f"{run} is compressed already; compress its source run "
                                   f"{meta[COMPRESSION_KEY].get('source')}")  # fmt: skip
        info = read_info(data)
        require_fields(info, task.fields, family=task.family)
        batches = load_batches(data, task.fields)
        started = time.perf_counter()
        teacher = copy.deepcopy(model).eval()
        report: dict[str, Any] = {"source": str(run.resolve()), "data": str(Path(data).resolve()),
                                  "out": str(out.resolve()), "definitions": MEASURE_DEFINITIONS}  # fmt: skip
        with _bar(progress, "NMSE before", info.num_committed) as step:
            before = evaluate_metric(teacher, task, batches, step)
        flops_before = flops_per_frame(teacher, task, batches[0])
        if prune is not None:
            report["prune"] = {"groups": prune_(model, PruneConfig(ratio=prune))}
            if finetune_epochs:
                request = {
                    "source": str(run.resolve()),
                    "ratio": prune,
                    "train": str(Path(train).resolve()),
                    "samples": finetune_samples,
                    "epochs": finetune_epochs,
                    "device": device,
                }
                report["prune"]["finetune"] = _finetune(model, teacher, task, train, finetune_epochs,
                                                        finetune_samples, device, progress,
                                                        out=out, request=request)  # fmt: skip
        flops_after = flops_per_frame(model, task, batches[0])
        if export is not None:
            inputs = real_inputs(model, task, [{k: v[:64] for k, v in batches[0].items()}])[0]
            report["onnx"] = export_onnx(model, _mkdir(out) / "model.onnx", inputs=inputs)
        if quantize is not None:
            config = quantize_config(quantize, calibration_samples=calibration_samples)
            calib = None
            if isinstance(config, Int8StaticConfig):
                source = calibration or train or data
                calib = real_inputs(model, task, load_batches(source, task.fields, batch_size=64,
                                                              limit=calibration_samples))  # fmt: skip
                report["calibration"] = {"path": str(Path(source).resolve()),
                                         "samples": min(calibration_samples,
                                                        read_info(source).num_committed)}  # fmt: skip
            with _bar(progress, f"quantize {quantize}", None):
                quantize_(model, config, calibration=calib)
        with _bar(progress, "NMSE after", info.num_committed) as step:
            after = evaluate_metric(model, task, batches, step)
        _mkdir(out)
        weights = save_compressed_weights(model, out / WEIGHTS_FILE)
        with _bar(progress, "latency (alternating)", latency_repeats) as step:
            ms = latency({"original": teacher, "compressed": model}, task, batches[0],
                         repeats=latency_repeats, frames=latency_frames, threads=threads,
                         progress=step)  # fmt: skip
        report.update(_summary(teacher, model, run, weights, flops_before, flops_after, ms,
                               before, after))  # fmt: skip
        report["latency"] = {"frames_per_call": min(latency_frames, len(batches[0]["h"])),
                             "repeats": latency_repeats, "threads": threads or torch.get_num_threads()}  # fmt: skip
        _write_run(model, task, meta, run, out, report)
        report["seconds"] = time.perf_counter() - started
        write_json_atomic(out / "report.json", report)
        write_text_atomic(out / "report.md", to_markdown(report))
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)  # done: nothing left to resume
        return report


def _mkdir(out: Path) -> Path:
    create_run_folder(out)
    return out


def _finetune(model, teacher, task, train, epochs, samples, device, progress, *, out: Path,
              request: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    from wirelessml.train.data import epoch_loader, open_dataset

    data = open_dataset(train, task, limit=samples)
    config = DistillConfig(epochs=epochs)
    steps = math.ceil(len(data) / config.batch_size)
    dev = torch.device(device)
    model.to(dev)
    teacher.to(dev)

    def batches(epoch: int):
        loader, _ = epoch_loader(data, seed=0, epoch=epoch, batch_size=config.batch_size, skip=0)
        for _, batch in loader:
            yield {k: v.to(dev) for k, v in batch.items()}

    t0 = time.perf_counter()
    try:
        with _bar(progress, "distillation fine-tuning", len(data) * epochs) as step:
            losses = distill_finetune(model, teacher, task, batches, config,
                                      steps_per_epoch=steps, progress=step,
                                      checkpoint_dir=_mkdir(out),
                                      request={**request, "config": dataclasses.asdict(config)})  # fmt: skip
    finally:
        data.close()
        model.cpu()
        teacher.cpu()
    return {"train": str(Path(train).resolve()), "samples": len(data), "epochs": epochs,
            "config": {k: getattr(config, k) for k in ("lr", "batch_size", "output_weight",
                                                       "attention_weight")},
            "epoch_losses": losses, "seconds": time.perf_counter() - t0}  # fmt: skip


def _summary(teacher, model, run, weights, flops_before, flops_after, ms, before, after):
    size_before = (run / WEIGHTS_FILE).stat().st_size
    size_after = weights.stat().st_size
    nb, na = before["overall"]["nmse_db"], after["overall"]["nmse_db"]
    return {
        "before": {"parameters": parameters(teacher), "bytes_on_disk": size_before,
                   "flops_per_frame": flops_before, "ms_per_frame": ms["original"],
                   "metrics": before["overall"]},
        "after": {"parameters": parameters(model), "bytes_on_disk": size_after,
                  "flops_per_frame": flops_after, "ms_per_frame": ms["compressed"],
                  "metrics": after["overall"]},
        "ratios": {"size": size_before / size_after, "speed": ms["original"] / ms["compressed"],
                   "flops_reduction": 1 - flops_after / flops_before,
                   "parameters_reduction": 1 - parameters(model) / parameters(teacher),
                   "nmse_loss_db": na - nb},
        "by_snr": {"before": before["by"].get("snr_db", []), "after": after["by"].get("snr_db", [])},
    }  # fmt: skip


def _write_run(model, task, meta, run: Path, out: Path, report: dict[str, Any]) -> None:
    """run.json (the source's + compression) and a re-measured val_report.json."""
    new_meta = {**meta, COMPRESSION_KEY: compression_meta(model, run)}
    new_meta.pop("best_val", None)
    val_path = meta.get("datasets", {}).get("val", {}).get("path")
    if val_path and Path(val_path).exists():
        val = evaluate_metric(model, task, load_batches(val_path, task.fields))
        new_meta["best_val"] = dict(val["overall"])
        report["val"] = {"path": val_path, "metrics": val["overall"]}
    else:
        val = evaluate_metric(model, task, load_batches(report["data"], task.fields))
        report["val"] = {"path": report["data"], "metrics": val["overall"],
                         "note": "the run's validation file is missing: measured on --data"}  # fmt: skip
        new_meta["best_val"] = dict(val["overall"])
    write_json_atomic(out / REPORT_FILE, val)
    write_json_atomic(out / RUN_FILE, new_meta)


def to_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table (before / after / ratio)."""
    b, a, r = report["before"], report["after"], report["ratios"]
    rows = [
        ("parameters", f"{b['parameters']:,}", f"{a['parameters']:,}",
         f"-{100 * r['parameters_reduction']:.1f} %"),
        ("size on disk (bytes)", f"{b['bytes_on_disk']:,}", f"{a['bytes_on_disk']:,}",
         f"{r['size']:.2f}x smaller"),
        ("FLOPs per frame", f"{b['flops_per_frame']:,}", f"{a['flops_per_frame']:,}",
         f"-{100 * r['flops_reduction']:.1f} %"),
        ("CPU ms per frame", f"{b['ms_per_frame']:.3f}", f"{a['ms_per_frame']:.3f}",
         f"{r['speed']:.2f}x faster"),
        ("NMSE (dB)", f"{b['metrics']['nmse_db']:.3f}", f"{a['metrics']['nmse_db']:.3f}",
         f"{r['nmse_loss_db']:+.3f} dB"),
    ]  # fmt: skip
    lines = [f"# Compression of {report['source']}", "", f"Metric data: {report['data']}", "",
             "| | original | compressed | change |", "| --- | --- | --- | --- |"]  # fmt: skip
    lines += [f"| {n} | {x} | {y} | {z} |" for n, x, y, z in rows]
    if "onnx" in report:
        lines += ["", f"ONNX: {report['onnx']['path']}, max relative error vs PyTorch "
                      f"{report['onnx']['max_rel_error']:.2e} (onnxruntime)"]  # fmt: skip
    if "prune" in report:
        lines += ["", "Pruned groups: " + json.dumps(
            {g: f"{v['channels_before']}->{v['channels_after']}"
             for g, v in report["prune"]["groups"].items()})]  # fmt: skip
    lines += ["", "Definitions: " + json.dumps(report["definitions"], indent=1)]
    return "\n".join(lines) + "\n"
