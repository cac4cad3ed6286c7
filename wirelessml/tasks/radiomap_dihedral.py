"""The 8 symmetries of a square map grid (the dihedral group D4), for augmentation.

Path gain over a district does not depend on how the grid is turned: rotating or mirroring
the buildings and the transmitter rotates or mirrors the map (isotropic antennas, the
receivers on the same grid). Training on a random element per map shows the network the
same physics in 8 poses; evaluating every pose and averaging the inverse-transformed
predictions (test-time augmentation) removes the orientation bias a network keeps.

Element ``k`` in ``0..7``: rotate by ``k % 4`` quarter turns (``torch.rot90`` over the last
two axes), then transpose the grid if ``k >= 4``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

__all__ = [
    "NUM_ELEMENTS",
    "DihedralAverage",
    "dihedral",
    "dihedral_average",
    "inverse",
    "random_dihedral",
]

NUM_ELEMENTS = 8


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Element ``k`` of D4 applied to the last two (equal) axes of ``x``.

    Examples:
        >>> x = torch.arange(4.0).view(2, 2)
        >>> dihedral(dihedral(x, 5), inverse(5)).equal(x)
        True
    """
    y = torch.rot90(x, k % 4, dims=(-2, -1))
    return y.transpose(-2, -1) if k >= 4 else y


def inverse(k: int) -> int:
    """The element that undoes ``k``: quarter turns back; a transpose-after-turn is its own
    inverse (a reflection)."""
    return (4 - k) % 4 if k < 4 else k


def random_dihedral(batch: Mapping[str, torch.Tensor], fields: Sequence[str],
                    generator: torch.Generator) -> dict[str, torch.Tensor]:  # fmt: skip
    """The batch with one random element of D4 per sample applied to each of ``fields``.

    The same element for all fields of a sample; other fields are passed through.

    Shapes:
        each of ``fields``: [batch, S, S]
    """
    n = batch[fields[0]].shape[0]
    ks = torch.randint(NUM_ELEMENTS, (n,), generator=generator).tolist()
    out = dict(batch)
    for name in fields:
        x = batch[name]
        out[name] = torch.stack([dihedral(x[b], k) for b, k in enumerate(ks)])
    return out


def dihedral_average(fn: Callable[..., torch.Tensor],
                     inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:  # fmt: skip
    """Mean over the 8 elements ``g`` of ``g⁻¹(fn(g(inputs)))``: test-time augmentation.

    Every input is a [batch, S, S] map; so is ``fn``'s output. Costs 8 calls of ``fn``.
    """
    total = None
    for k in range(NUM_ELEMENTS):
        pred = fn(**{name: dihedral(x, k) for name, x in inputs.items()})
        pred = dihedral(pred, inverse(k))
        total = pred if total is None else total + pred
    return total / NUM_ELEMENTS


class DihedralAverage(torch.nn.Module):
    """A map model evaluated with test-time augmentation (:func:`dihedral_average`).

    Takes the wrapped model's keyword inputs, so it evaluates like any model (8x its cost).
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, **inputs: torch.Tensor) -> torch.Tensor:
        return dihedral_average(self.model, inputs)
