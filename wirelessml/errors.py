"""Errors a user can cause and fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

__all__ = ["ConfigError", "DatasetError", "WirelessMLError"]


class WirelessMLError(Exception):
    """Base class of every error caused by user input (a config, a file, a flag)."""


class ConfigError(WirelessMLError, ValueError):
    """A configuration field has a value outside what is allowed.

    The message names the field, the bad value and what is allowed.
    """


class DatasetError(WirelessMLError):
    """A dataset file is missing, foreign, corrupt, incomplete or does not match a request."""
