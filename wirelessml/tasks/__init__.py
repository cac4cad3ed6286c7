"""Tasks: one module per problem. A task names the dataset family and fields it reads,
its model inputs, loss, per-sample metrics and their report (with definitions)."""

from __future__ import annotations

from wirelessml.tasks.cellfree_power import CellFreePowerTask, MaxMinCellFreePowerTask
from wirelessml.tasks.channel_estimation import METRIC_DEFINITIONS, ChannelEstimationTask
from wirelessml.tasks.csi_prediction import CSIPredictionTask
from wirelessml.tasks.precoding import MaxMinPrecodingTask, PrecodingTask
from wirelessml.tasks.radiomap import RadioMapTask

__all__ = [
    "METRIC_DEFINITIONS",
    "CSIPredictionTask",
    "CellFreePowerTask",
    "ChannelEstimationTask",
    "MaxMinCellFreePowerTask",
    "MaxMinPrecodingTask",
    "PrecodingTask",
    "RadioMapTask",
]
