"""Is Dr.Jit's backend for Sionna RT usable here? Checked before ``sionna.rt`` is imported.

On a CPU, Sionna RT runs on Dr.Jit's LLVM backend, which needs LLVM >= 16: with Debian
12's LLVM 15 the first radio map aborts the process ("LLVM ERROR: Cannot select ...
fmaximum"), and without any libLLVM Mitsuba cannot even select its variant. Both become
one-line errors here instead of a crash.
"""

from __future__ import annotations

import os

from wirelessml.errors import WirelessMLError

__all__ = ["MIN_LLVM", "RTBackendError", "check_rt_backend"]

MIN_LLVM = 16

_HOW = ("install LLVM >= 16 (Debian/Ubuntu: sudo apt-get install libllvm19, or run "
        "scripts/setup.sh) or point DRJIT_LIBLLVM_PATH at libLLVM.so.19")  # fmt: skip


class RTBackendError(WirelessMLError):
    """Dr.Jit has no usable backend for Sionna RT (no or too old LLVM, no CUDA)."""


def check_rt_backend(device: str | None = None) -> str:
    """The Dr.Jit backend Sionna RT will use (``"cuda"`` or ``"llvm"``), or a one-line error.

    Raises:
        RTBackendError: on CPU, when Dr.Jit's LLVM backend is missing or older than LLVM 16;
            the message says how to install it.
    """
    import drjit as dr

    if (device is None or str(device).startswith("cuda")) and dr.has_backend(dr.JitBackend.CUDA):
        return "cuda"
    where = os.environ.get("DRJIT_LIBLLVM_PATH")
    found = f" (DRJIT_LIBLLVM_PATH={where})" if where else ""
    if not dr.has_backend(dr.JitBackend.LLVM):
        raise RTBackendError(f"Sionna RT needs Dr.Jit's LLVM backend on CPU but no libLLVM "
                             f"could be loaded{found}; {_HOW}")  # fmt: skip
    version = tuple(dr.detail.llvm_version())
    if version[0] < MIN_LLVM:
        raise RTBackendError(f"Sionna RT needs LLVM >= {MIN_LLVM} on CPU but Dr.Jit loaded "
                             f"LLVM {'.'.join(map(str, version))}{found}; {_HOW}")  # fmt: skip
    return "llvm"
