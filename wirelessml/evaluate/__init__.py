"""Evaluation: trained runs and classical baselines on one test file, in one table."""

from __future__ import annotations

from wirelessml.evaluate.report import format_gaps, format_table, gaps, to_markdown, write_reports
from wirelessml.evaluate.runner import TIMING_DEFINITION, evaluate

__all__ = ["TIMING_DEFINITION", "evaluate", "format_gaps", "format_table", "gaps", "to_markdown", "write_reports"]
