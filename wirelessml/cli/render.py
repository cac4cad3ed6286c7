"""Plain-text renderings of library objects for the CLI."""

from __future__ import annotations

import json

from wirelessml.datasets import DatasetInfo

__all__ = ["info_report"]


def info_report(info: DatasetInfo) -> str:
    """A readable summary of a dataset: status, fields, definitions, config, provenance."""
    status = (
        "complete"
        if info.complete
        else f"INCOMPLETE: {info.num_committed}/{info.num_samples} samples committed "
        "(continue with: wirelessml simulate ... --resume)"
    )
    lines = [
        f"file       {info.path}",
        f"format     {info.format} (schema v{info.schema_version})",
        f"simulator  {info.simulator}",
        f"samples    {info.num_committed} of {info.num_samples}: {status}",
        f"seed       {info.seed}",
        f"created    {info.created_utc}",
        "",
        "fields (sample axis first):",
    ]
    rows = [
        (
            name,
            spec.dtype,
            str((info.num_samples, *spec.shape)),
            "[" + ", ".join(("sample", *spec.dims)) + "]",
            spec.unit or "-",
            spec.description,
        )
        for name, spec in info.fields.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    header = ("name", "dtype", "shape", "dims", "unit")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    for row in [(*header, "meaning"), *rows]:
        cells = [c.ljust(w) for c, w in zip(row[:5], widths, strict=True)]
        lines.append("  " + "  ".join(cells) + "  " + row[5])
    definitions = {k: v for k, v in info.attrs.items() if k.endswith("_definition")}
    other = {k: v for k, v in info.attrs.items() if k not in definitions and k != "versions"}
    if definitions:
        lines += ["", "definitions:"] + [f"  {k}: {v}" for k, v in definitions.items()]
    if other:
        lines += ["", "attributes:"] + [f"  {k}: {v}" for k, v in other.items()]
    data = info.config.get("_data", info.config)
    lines += ["", f"config ({info.config.get('_type', '?')} v{info.config.get('_version', '?')}):"]
    lines += [f"  {key} = {json.dumps(value)}" for key, value in sorted(data.items())]
    lines += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in info.versions.items())]
    return "\n".join(lines)
