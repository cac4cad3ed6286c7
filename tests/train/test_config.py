"""TrainConfig validation and JSON round trip, the learning-rate schedule, --max-time parsing."""

from __future__ import annotations

import math

import pytest

from wirelessml.cli.train import parse_duration
from wirelessml.config import config_from_json, config_to_json
from wirelessml.errors import ConfigError
from wirelessml.train import TrainConfig, lr_at


def test_defaults_and_json_round_trip() -> None:
    config = TrainConfig(epochs=3, patience=None, grad_clip=None, max_time_s=60.0)
    assert TrainConfig().lr_schedule == "cosine" and TrainConfig().weight_decay == 1e-4
    assert config_from_json(config_to_json(config, "train"), {"train": TrainConfig}) == config


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "TrainConfig.epochs=0 is not allowed: expected an integer >= 1"),
        ("batch_size", 2.5, "TrainConfig.batch_size=2.5"),
        ("lr", -1.0, "TrainConfig.lr=-1.0 is not allowed: expected a number > 0"),
        ("lr_schedule", "step", "'cosine', 'cosine-budget', 'exponential', 'constant'"),
        ("lr_schedule", "cosine-budget", "'cosine-budget' only with max_time_s set"),
        ("lr_gamma", 1.5, "a number in (0, 1]"),
        ("patience", 0, "an integer >= 1 or None"),
        ("grad_clip", 0.0, "a number > 0 or None"),
        ("max_time_s", float("inf"), "TrainConfig.max_time_s=inf"),
        ("amp", "yes", "True or False"),
        ("checkpoint_every_steps", 0, "an integer >= 1"),
    ],
)
def test_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value})
    assert message in str(info.value)


def test_cosine_schedule_with_warmup() -> None:
    config = TrainConfig(lr=1.0, warmup_steps=4)
    lrs = [lr_at(config, step=s, epoch=0, total_steps=24) for s in range(24)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert lrs[-1] == pytest.approx(0.01) and all(
        a >= b for a, b in zip(lrs[3:], lrs[4:], strict=False)
    )
    assert lrs[13] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 9 / 19)))


def test_cosine_budget_follows_whichever_runs_out_first() -> None:
    budget = TrainConfig(lr=1.0, lr_schedule="cosine-budget", max_time_s=60.0)
    steps = TrainConfig(lr=1.0)
    for step, share in ((0, 0.0), (5, 0.1), (10, 0.9), (20, 0.5), (23, 1.0)):
        progress = max(step / 23, share)  # the later of the two
        want = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))
        got = lr_at(budget, step=step, epoch=0, total_steps=24, time_progress=share)
        assert got == pytest.approx(want)
    assert lr_at(budget, step=0, epoch=0, total_steps=24, time_progress=1.7) == pytest.approx(0.01)
    assert lr_at(steps, step=5, epoch=0, total_steps=24, time_progress=0.9) == lr_at(
        steps, step=5, epoch=0, total_steps=24)  # plain cosine ignores the clock


def test_exponential_and_constant_schedules() -> None:
    exp = TrainConfig(lr=2.0, lr_schedule="exponential")
    assert lr_at(exp, step=100, epoch=3, total_steps=1000) == pytest.approx(2.0 * 0.995**3)
    assert lr_at(TrainConfig(lr_schedule="constant"), step=7, epoch=7, total_steps=8) == 1e-3


@pytest.mark.parametrize(("text", "seconds"),
                         [("90", 90.0), ("45s", 45.0), ("30m", 1800.0), ("2h", 7200.0),
                          ("1h30m", 5400.0), ("1.5d", 129600.0)])  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "h", "1h 2", "-5m", "0s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="--max-time"):
        parse_duration(text)
