"""Who is best where, from a CSI protocol report, over any subset of its estimators.

The protocol counts a scenario for the estimator with the lowest NMSE among *all* the
estimators it ran. This recounts among a subset (``--exclude``), e.g. without a baseline
added after the acceptance criterion was written, and splits the counts of one category by
AWGN level and by winner. Nothing is re-run: it reads ``report.json`` (or a gzipped copy,
``.json.gz``).

Usage::

    python bench/csi_share.py --report eval_tdd/report.json --exclude ar-select --results out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path


def shares(scenarios: list[dict], exclude: set[str], category: str) -> dict:
    """Share best per estimator, and per level the winners' counts, in ``category``."""
    rows = [r for r in scenarios if r["category"] == category]
    labels = [lb for lb in rows[0]["results"] if lb not in exclude]
    best = [min(labels, key=lambda lb: r["results"][lb]["nmse_db"]) for r in rows]
    per_level: dict[str, Counter] = {}
    for r, b in zip(rows, best, strict=True):
        per_level.setdefault(f"{r['noise']} {r['level']:g}", Counter())[b] += 1
    return {
        "num_scenarios": len(rows),
        "estimators": labels,
        "share_best": {lb: best.count(lb) / len(rows) for lb in labels},
        "best_per_level": {k: dict(v.most_common()) for k, v in per_level.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, required=True, help="a protocol report.json")
    parser.add_argument("--exclude", default="", help="estimators to leave out, comma-separated")
    parser.add_argument("--category", default="generalization",
                        choices=("regular", "robustness", "generalization"))  # fmt: skip
    parser.add_argument("--results", type=Path, default=None, help="write the counts as JSON")
    args = parser.parse_args()
    opener = gzip.open if args.report.suffix == ".gz" else open
    with opener(args.report, "rt") as f:
        report = json.load(f)
    known = set(report["scenarios"][0]["results"])
    exclude = {x for x in args.exclude.split(",") if x}
    if exclude - known:
        parser.error(f"--exclude {sorted(exclude - known)} not in the report; it has {sorted(known)}")
    out = {"report": str(args.report), "category": args.category, "excluded": sorted(exclude),
           **shares(report["scenarios"], exclude, args.category)}  # fmt: skip
    for lb, share in sorted(out["share_best"].items(), key=lambda kv: -kv[1]):
        print(f"{lb:45s} {100 * share:5.1f} %")
    for level, counts in out["best_per_level"].items():
        print(f"  {level}: {counts}")
    if args.results:
        args.results.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
