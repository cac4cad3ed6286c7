"""The complex↔real edge: the one place where complex tensors become real ones and back.

Models that compute in real arithmetic (so that they export to ONNX and quantize) convert
their ``complex64`` input with :class:`ComplexToChannels` and their real output back with
:class:`ChannelsToComplex`, like torchsig's ``ComplexTo2D``. Both are views plus at most one
copy, so the round trip is exact.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ChannelsToComplex", "ComplexToChannels"]


class ComplexToChannels(nn.Module):
    """Complex tensor → real tensor with a new axis of size 2 holding (Re, Im).

    Built on :func:`torch.view_as_real`.

    Args:
        dim: Position of the new (Re, Im) axis in the output, counted like ``torch.stack``
            (default: ``-1``, the last axis; ``1`` gives a CNN channel axis after the batch).

    Shapes:
        - input ``x: [*, ...]``, complex64 (or complex128)
        - output: ``x`` with a new axis of size 2 at ``dim``, float32 (or float64);
          index 0 is the real part, index 1 the imaginary part.

    Examples:
        >>> x = torch.randn(4, 14, 120, dtype=torch.complex64)
        >>> ComplexToChannels(dim=1)(x).shape
        torch.Size([4, 2, 14, 120])
    """

    def __init__(self, *, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.is_complex():
            raise TypeError(f"ComplexToChannels expects a complex tensor, got dtype {x.dtype}")
        return torch.view_as_real(x).movedim(-1, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ChannelsToComplex(nn.Module):
    """Real tensor with a (Re, Im) axis of size 2 → complex tensor; inverse of :class:`ComplexToChannels`.

    Built on :func:`torch.view_as_complex` (after moving the axis last, copying only if the
    layout requires it).

    Args:
        dim: Position of the (Re, Im) axis in the input (default: ``-1``).

    Shapes:
        - input ``x: [..., 2 at dim, ...]``, float32 (or float64); index 0 real, 1 imaginary
        - output: ``x`` without the axis ``dim``, complex64 (or complex128)

    Examples:
        >>> x = torch.randn(4, 2, 14, 120)
        >>> ChannelsToComplex(dim=1)(x).shape
        torch.Size([4, 14, 120])
    """

    def __init__(self, *, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(
                f"ChannelsToComplex expects a real floating tensor, got dtype {x.dtype}"
            )
        if x.ndim == 0 or x.shape[self.dim] != 2:
            raise ValueError(
                f"ChannelsToComplex(dim={self.dim}) needs an axis of size 2 (Re, Im) at dim "
                f"{self.dim}; got shape {tuple(x.shape)}"
            )
        y = x.movedim(self.dim, -1).contiguous()
        # view_as_complex also needs an even storage offset (a slice can leave an odd one).
        if y.storage_offset() % 2:
            y = y.clone()
        return torch.view_as_complex(y)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
