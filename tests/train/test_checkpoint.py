"""The checkpoint restores model, AdamW state and RNG exactly, atomically, without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import safetensors.torch
import torch

from wirelessml.train.checkpoint import load_checkpoint, read_counters, save_checkpoint


def _trained(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 3)).square().mean().backward()
        optimizer.step()
    return model, optimizer


def test_round_trip(tmp_path: Path) -> None:
    model, optimizer = _trained(0)
    counters = {"epoch": 2, "step": 3, "batch_in_epoch": 1, "best_val_loss": 0.5}
    save_checkpoint(tmp_path, model=model, optimizer=optimizer, counters=counters)
    expected_draw = torch.rand(4)  # the RNG state saved is the one before this draw

    fresh, fresh_opt = _trained(1)
    restored = load_checkpoint(tmp_path, model=fresh, optimizer=fresh_opt)
    assert restored == {"version": 1, **counters}
    assert torch.equal(torch.rand(4), expected_draw)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    ours, theirs = optimizer.state_dict(), fresh_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    for index, state in ours["state"].items():
        for key, value in state.items():
            assert torch.equal(value, theirs["state"][index][key]), (index, key)


def test_files(tmp_path: Path) -> None:
    model, optimizer = _trained(0)
    save_checkpoint(tmp_path, model=model, optimizer=optimizer, counters={"step": 3})
    folder = tmp_path / "checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == ["state.json", "state.safetensors"]
    tensors = safetensors.torch.load_file(folder / "state.safetensors")
    assert {"model.0.weight", "optim.0.exp_avg", "optim.0.step", "rng.torch"} <= set(tensors)
    assert tensors["rng.torch"].dtype == torch.uint8
    assert json.loads((folder / "state.json").read_text())["step"] == 3
    assert read_counters(tmp_path)["step"] == 3 and read_counters(tmp_path / "none") is None
