"""The complex↔real edge layers: shapes, dtypes, exact round trip, errors."""

from __future__ import annotations

import pytest
import torch

from wirelessml.nn import ChannelsToComplex, ComplexToChannels


@pytest.mark.parametrize(
    ("dim", "shape"),
    [
        (-1, (3, 4, 5, 2)),
        (0, (2, 3, 4, 5)),
        (1, (3, 2, 4, 5)),
        (2, (3, 4, 2, 5)),
        (-2, (3, 4, 2, 5)),
    ],
)
@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_round_trip_is_exact(
    dim: int, shape: tuple[int, ...], dtype: torch.dtype, device: str
) -> None:
    x = torch.randn(3, 4, 5, dtype=dtype, device=device)
    real = ComplexToChannels(dim=dim)(x)
    assert real.shape == shape
    assert real.dtype == (torch.float32 if dtype == torch.complex64 else torch.float64)
    assert torch.equal(real.select(dim, 0), x.real)
    assert torch.equal(real.select(dim, 1), x.imag)
    back = ChannelsToComplex(dim=dim)(real)
    assert back.dtype == dtype
    assert torch.equal(back, x)


def test_non_contiguous_and_odd_offset_inputs() -> None:
    x = torch.randn(6, 8, dtype=torch.complex64)[::2, 1:]  # strided complex view
    assert torch.equal(ChannelsToComplex(dim=0)(ComplexToChannels(dim=0)(x)), x)
    flat = torch.randn(9)
    y = flat[1:].view(4, 2)  # storage offset 1: view_as_complex alone would refuse it
    assert torch.equal(ChannelsToComplex()(y), torch.complex(y[:, 0], y[:, 1]))


def test_gradients_pass_through() -> None:
    x = torch.randn(2, 3, dtype=torch.complex64, requires_grad=True)
    z = ChannelsToComplex(dim=1)(2.0 * ComplexToChannels(dim=1)(x))
    z.abs().square().sum().backward()
    assert torch.allclose(x.grad, 8.0 * x.detach())


def test_errors_and_repr() -> None:
    with pytest.raises(TypeError, match="complex"):
        ComplexToChannels()(torch.randn(3))
    with pytest.raises(TypeError, match="real floating"):
        ChannelsToComplex()(torch.randn(3, 2, dtype=torch.complex64))
    with pytest.raises(ValueError, match="size 2"):
        ChannelsToComplex(dim=1)(torch.randn(3, 3))
    assert repr(ComplexToChannels(dim=1)) == "ComplexToChannels(dim=1)"
    assert repr(ChannelsToComplex()) == "ChannelsToComplex(dim=-1)"
