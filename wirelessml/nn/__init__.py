"""Shared layers. ``complex_edge`` holds the one complex↔real conversion models use."""

from __future__ import annotations

from wirelessml.nn.complex_edge import ChannelsToComplex, ComplexToChannels

__all__ = ["ChannelsToComplex", "ComplexToChannels"]
