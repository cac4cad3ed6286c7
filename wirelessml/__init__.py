"""wirelessml: a machine-learning workbench for the physical layer, built on Sionna.

Sionna is imported only by :mod:`wirelessml.simulators` (and later ``linksim``) when a
simulation runs, so ``import wirelessml``, the dataset layer and the CLI's ``info`` and
``list`` stay fast.

The CLI's commands are importable under the same names::

    import wirelessml
    path = wirelessml.simulate("ofdm", num_samples=512, out="a.h5", seed=1)
    print(wirelessml.info(path).fields["h"])
"""

from __future__ import annotations

__version__ = "0.1.0"

from wirelessml.api import info, list, simulate  # noqa: E402, A004

__all__ = ["__version__", "info", "list", "simulate"]
