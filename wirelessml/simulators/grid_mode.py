"""What every simulator config with a test-grid mode shares."""

from __future__ import annotations

from wirelessml.config import check_field

__all__ = ["GridMode"]


class GridMode:
    """Mixin for configs with ``mode`` (``"random"`` or ``"grid"``) and ``grid_conditions``.

    In grid mode the samples cycle through every combination of ``grid_conditions``, so a
    sample count must give each combination the same number of samples.
    """

    mode: str
    grid_conditions: list

    def check_num_samples(self, num_samples: int) -> None:
        """In grid mode, every combination must get the same number of samples."""
        n = len(self.grid_conditions)
        check_field(
            self.mode != "grid" or num_samples % n == 0,
            "simulate", "num_samples", num_samples,
            f"a multiple of the {n} grid combinations in grid mode (e.g. {n * 100})",
        )  # fmt: skip
