"""Trained estimators inside Sionna link-level simulations (needs Sionna).

- :class:`NeuralChannelEstimator`: a trained run as a drop-in for Sionna's
  ``LSChannelEstimator``.
- :func:`resource_grid`, :func:`check_grid`: the grid of a run's training data.
- :class:`LinkConfig`, :class:`ReferenceLink`, :func:`run_linksim`: the reference link
  (5G LDPC, QAM, TDL/CDL, LMMSE equalization) and its BER/BLER Monte Carlo.
"""

from __future__ import annotations

from wirelessml.linksim.estimator import (
    NeuralChannelEstimator,
    TrainedRun,
    error_variance_table,
    load_trained_run,
)
from wirelessml.linksim.grid import (
    GridMismatchError,
    check_grid,
    pilot_sequence,
    resource_grid,
    training_config,
)

__all__ = [
    "GridMismatchError",
    "NeuralChannelEstimator",
    "TrainedRun",
    "check_grid",
    "error_variance_table",
    "load_trained_run",
    "pilot_sequence",
    "resource_grid",
    "training_config",
]
