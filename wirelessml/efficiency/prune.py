"""Structured channel pruning of a model's real core: ``prune_(model, PruneConfig(ratio))``.

Group channel pruning (Group channel pruning and spatial attention distilling, seed paper in
``shared/reference/papers.md``): the prunable channels are split into groups by
feature-map scale and module kind, and each group gets its own threshold. For AdaFortiTran:

============== ==================================================== =====================
group          channels (torch-pruning root layers)                  scale
============== ==================================================== =====================
``conv``       hidden outputs of both ConvEnhancers' 3x3 convs       the T x F grid
``attention``  ``d_model``: token embedding, positional embedding,    tokens
               every attention block (``nn.MultiheadAttention``
               ties q/k/v widths to ``d_model``), LayerNorms, head
``feed-forward`` hidden width of every encoder feed-forward block     tokens
``prior-mlp``  hidden widths of the three prior MLPs (embeddings      one value per frame
               of SNR, delay spread, Doppler)
============== ==================================================== =====================

Within a group, a channel's importance is torch-pruning's ``GroupMagnitudeImportance``
(L2 norm of every weight coupled to it through the ``DependencyGraph``, layer-normalized
by its mean, so layers of one group compare). The group's threshold is the
``ratio``-quantile of its importances: exactly ``floor(ratio · channels)`` of the group's
channels are removed, the least important first, each layer keeping at least one channel
(``d_model`` keeps a multiple of ``num_heads``). Removal goes through the dependency graph,
so every coupled weight (the next conv's inputs, LayerNorms, the positional embedding, the
packed q/k/v projections) shrinks with it.

The kept widths are recorded (``structure``), so a run folder rebuilds the pruned shapes
from the original config before loading its weights.

After pruning, :func:`distill_finetune` fine-tunes the pruned student from the unpruned
teacher (see its docstring for the exact losses).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wirelessml.config import check_field
from wirelessml.efficiency.core import CompressionError, compression_record, real_core, record_step
from wirelessml.train.checkpoint import load_checkpoint, read_counters, save_checkpoint

__all__ = ["PRUNE_GROUPS", "DistillConfig", "PruneConfig", "distill_finetune", "prune_",
           "pruning_groups"]  # fmt: skip

PRUNE_GROUPS: tuple[str, ...] = ("conv", "attention", "feed-forward", "prior-mlp")


def _ratio_ok(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value < 1.0


@dataclass(frozen=True, kw_only=True)
class PruneConfig:
    """How much of each group to remove.

    Args:
        ratio: Fraction of every group's channels to remove, in (0, 1).
        group_ratios: Per-group overrides ``{group: ratio}`` (groups: ``PRUNE_GROUPS``);
            ratio ``0`` leaves a group alone.

    Raises:
        ConfigError: a ratio outside (0, 1) or an unknown group.
    """

    version: int = 1
    ratio: float = 0.5
    group_ratios: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_field(_ratio_ok(self.ratio), self, "ratio", self.ratio,
                    "a fraction of channels to remove strictly between 0 and 1")  # fmt: skip
        for name, value in self.group_ratios.items():
            check_field(name in PRUNE_GROUPS, self, "group_ratios", name,
                        f"groups among {', '.join(PRUNE_GROUPS)}")  # fmt: skip
            check_field(value == 0 or _ratio_ok(value), self, f"group_ratios[{name}]", value,
                        "0 (keep the group) or a fraction strictly between 0 and 1")  # fmt: skip

    def ratio_of(self, group: str) -> float:
        return float(self.group_ratios.get(group, self.ratio))


@dataclass(frozen=True, kw_only=True)
class DistillConfig:
    """Fine-tuning of a pruned student from its unpruned teacher (:func:`distill_finetune`).

    Args:
        epochs: Passes over the training samples (``0``: no fine-tuning).
        lr: AdamW learning rate, cosine-decayed to 0 over the fine-tuning.
        batch_size: Frames per step.
        output_weight: Weight of the output-distillation term.
        attention_weight: Weight of the attention-map term.
    """

    version: int = 1
    epochs: int = 1
    lr: float = 5e-4
    batch_size: int = 64
    output_weight: float = 1.0
    attention_weight: float = 1.0

    def __post_init__(self) -> None:
        for name, low in (("epochs", 0), ("batch_size", 1)):
            v = getattr(self, name)
            check_field(isinstance(v, int) and not isinstance(v, bool) and v >= low, self, name,
                        v, f"an integer >= {low}")  # fmt: skip
        for name in ("lr", "output_weight", "attention_weight"):
            v = getattr(self, name)
            check_field(isinstance(v, int | float) and math.isfinite(v) and v >= 0, self, name,
                        v, "a finite number >= 0")  # fmt: skip


# ---------------------------------------------------------------------------- groups


def _conv_roots(model: nn.Module) -> list[tuple[str, nn.Module]]:
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    # The hidden convolutions: every conv whose output feeds another conv of its stack.
    return [(n, m) for n, m in convs if m.out_channels > 1]


def pruning_groups(model: nn.Module) -> dict[str, list[tuple[str, nn.Module, str]]]:
    """``{group: [(layer name, root layer, "conv"|"linear"), ...]}`` of AdaFortiTran-like models.

    Raises:
        CompressionError: a model with none of the known layers to prune.
    """
    named = dict(model.named_modules())
    groups: dict[str, list[tuple[str, nn.Module, str]]] = {g: [] for g in PRUNE_GROUPS}
    groups["conv"] = [(n, m, "conv") for n, m in _conv_roots(model)]
    if isinstance(named.get("embed"), nn.Linear) and isinstance(named.get("encoder"), nn.Module):
        groups["attention"] = [("embed", named["embed"], "linear")]
    for name, module in model.named_modules():
        if isinstance(module, nn.TransformerEncoderLayer):
            groups["feed-forward"].append((f"{name}.linear1", module.linear1, "linear"))
    prior = named.get("prior_tokens")
    if prior is not None:
        for name, module in prior.named_modules():
            if isinstance(module, nn.Sequential):
                linears = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Linear)]
                groups["prior-mlp"] += [(f"prior_tokens.{name}.{n}", m, "linear")
                                        for n, m in linears[:-1]]  # fmt: skip
    if not any(groups.values()):
        raise CompressionError(f"prune_ knows no prunable layer of {type(model).__name__} "
                               "(conv enhancers, attention, feed-forward, prior MLPs)")  # fmt: skip
    return groups


def _width(module: nn.Module, kind: str) -> int:
    return module.out_channels if kind == "conv" else module.out_features


def _prune_fn(kind: str) -> Callable:
    import torch_pruning as tp

    return tp.prune_conv_out_channels if kind == "conv" else tp.prune_linear_out_channels


def _graph(model: nn.Module) -> Any:
    import torch_pruning as tp

    core = real_core(model, "prune")
    extra = [(p, 2) for n, p in model.named_parameters() if n == "pos_embedding"]
    with torch.enable_grad():  # the dependency graph is traced through autograd
        return tp.DependencyGraph().build_dependency(
            core, example_inputs=model.real_core_example(4), unwrapped_parameters=extra
        )


def _multiple(model: nn.Module, group: str) -> int:
    if group != "attention":
        return 1
    heads = [m.num_heads for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    return math.lcm(*heads) if heads else 1


def prune_(model: nn.Module, config: PruneConfig) -> dict[str, dict[str, Any]]:
    """Remove channels of ``model``'s real core in place, group by group (module docstring).

    Returns:
        Per group: ``{"ratio", "channels_before", "channels_after", "layers": {name: kept}}``.

    Raises:
        CompressionError: no real core, a model quantized already, nothing to prune.
    """
    if not isinstance(config, PruneConfig):
        raise CompressionError(f"prune_ needs a PruneConfig; got {type(config).__name__}")
    record = compression_record(model)
    if any(s["pass"] == "quantize" for s in record["steps"]):
        raise CompressionError("prune before quantizing: this model is quantized already")
    import torch_pruning as tp

    was_training = model.training
    model.eval()
    graph = _graph(model)
    importance = tp.importance.GroupMagnitudeImportance(p=2, normalizer="mean")
    summary: dict[str, dict[str, Any]] = {}
    structure: list[list[Any]] = []
    for group, roots in pruning_groups(model).items():
        ratio = config.ratio_of(group)
        if not roots or ratio == 0:
            continue
        scores = []
        for _, module, kind in roots:
            n = _width(module, kind)
            scores.append(
                importance(graph.get_pruning_group(module, _prune_fn(kind), list(range(n))))
            )
        total = sum(len(s) for s in scores)
        order = torch.cat(scores).argsort()
        remove = set(order[: math.floor(ratio * total)].tolist())
        start, layers = 0, {}
        multiple = _multiple(model, group)
        for (name, module, kind), s in zip(roots, scores, strict=True):
            n = len(s)
            drop = [i for i in range(n) if start + i in remove]
            start += n
            keep = max(multiple, (n - len(drop)) // multiple * multiple)
            drop = sorted(drop, key=lambda i: float(s[i]))[: n - keep]
            if drop:
                graph.get_pruning_group(module, _prune_fn(kind), drop).prune()
            layers[name] = keep
            structure.append([name, kind, keep])
        summary[group] = {"ratio": ratio, "channels_before": total,
                          "channels_after": sum(layers.values()), "layers": layers}  # fmt: skip
    _sync_attention(model)
    model.train(was_training)
    record_step(model, {"pass": "prune", "config": dataclasses.asdict(config),
                        "structure": structure, "groups": summary})  # fmt: skip
    return summary


def _sync_attention(model: nn.Module) -> None:
    """Keep ``nn.MultiheadAttention``'s size attributes equal to its pruned weights."""
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            d = module.in_proj_weight.shape[1]
            module.embed_dim = module.kdim = module.vdim = d
            module.head_dim = d // module.num_heads


def apply_structure(model: nn.Module, structure: Iterable[list[Any]]) -> None:
    """Shrink a freshly built model to recorded widths (the weights are loaded afterwards)."""
    graph = _graph(model)
    named = dict(model.named_modules())
    for name, kind, keep in structure:
        module = named.get(name)
        if module is None:
            raise CompressionError(f"the pruning record names layer {name!r}, which "
                                   f"{type(model).__name__} does not have")  # fmt: skip
        n = _width(module, kind)
        if keep < n:
            graph.get_pruning_group(module, _prune_fn(kind), list(range(keep, n))).prune()
    _sync_attention(model)


# ---------------------------------------------------------------------------- distillation


def _attention_points(model: nn.Module) -> list[tuple[str, str]]:
    """``(module name, "spatial"|"token")``: the feature maps whose attention is distilled."""
    points = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Sequential) and any(isinstance(m, nn.Conv2d) for m in module):
            points += [(f"{name}.{i}", "spatial") for i, m in enumerate(module)
                       if isinstance(m, nn.ReLU)]  # fmt: skip
        if isinstance(module, nn.TransformerEncoderLayer):
            points.append((name, "token"))
    return points


def _attention_map(x: Tensor, kind: str) -> Tensor:
    """Attention transfer map: mean over channels of the squared activation, L2-normalized.

    ``spatial``: ``[N, C, T, F] → [N, T·F]``; ``token``: ``[N, L, d] → [N, L]``. Channel
    counts may differ between student and teacher; the maps do not.
    """
    a = x.square().mean(dim=1 if kind == "spatial" else 2).flatten(1)
    return F.normalize(a, dim=1)


class _Taps:
    def __init__(self, model: nn.Module, points: list[tuple[str, str]]) -> None:
        self.maps: dict[str, Tensor] = {}
        named = dict(model.named_modules())
        self.handles = [named[n].register_forward_hook(self._hook(n, k)) for n, k in points]

    def _hook(self, name: str, kind: str) -> Callable:
        def hook(_m: nn.Module, _i: Any, out: Tensor) -> None:
            self.maps[name] = _attention_map(out, kind)

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def distill_finetune(
    student: nn.Module,
    teacher: nn.Module,
    task: Any,
    batches: Callable[[int], Iterable[Mapping[str, Tensor]]],
    config: DistillConfig,
    *,
    steps_per_epoch: int,
    progress: Callable[[int], None] | None = None,
    checkpoint_dir: Path | None = None,
    checkpoint_every_s: float = 120.0,
    request: Mapping[str, Any] | None = None,
) -> list[float]:
    """Fine-tune a pruned ``student`` from its unpruned ``teacher`` (both on the CPU).

    Loss per batch, with ``s``/``t`` the student's/teacher's complex outputs and ``h`` the
    true channel:

    ``task.loss(s, h) + output_weight · mean|s - t|² + attention_weight · Σ_maps mean_N
    ||A_s - A_t||²``

    where the attention maps ``A`` (:func:`_attention_map`, attention transfer) are taken at
    every ReLU of both ConvEnhancers (spatial maps over the T x F grid, one per hidden
    conv: the "feature maps of specific scales in each group" of the seed paper) and at the
    output of every encoder layer (token maps over the L tokens). The teacher runs in eval
    mode without gradients; the student trains (dropout on). AdamW, cosine learning rate.

    Args:
        batches: ``batches(epoch)`` yields the task's batches (complex, on the CPU).
        steps_per_epoch: Batches per epoch (for the learning-rate schedule).
        progress: Called with the number of frames after each step.
        checkpoint_dir: Folder that keeps a resumable checkpoint in ``checkpoint/`` (student
            weights, AdamW state, RNG, counters; :mod:`wirelessml.train.checkpoint`), written
            at most every
            ``checkpoint_every_s`` seconds and after each epoch. If it holds one already,
            fine-tuning continues from it: ``batches(epoch)`` must give the same batches in
            the same order again, and the batches done are skipped.
        request: JSON-able description of the job (source run, ratio, data, config) stored
            with the checkpoint; resuming with another one is refused.

    Returns:
        The mean loss of every epoch.

    Raises:
        CompressionError: the checkpoint in ``checkpoint_dir`` belongs to another request.
    """
    if config.epochs == 0:
        return []
    teacher.eval()
    student.train()
    points = _attention_points(student)
    taps_s, taps_t = _Taps(student, points), _Taps(teacher, points)
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.lr, weight_decay=0.0)
    total = max(1, steps_per_epoch * config.epochs)
    request = json.loads(json.dumps(dict(request or {}), default=str))
    state = _resume(checkpoint_dir, student, optimizer, request)
    saved_at = time.monotonic()

    def save() -> None:
        save_checkpoint(checkpoint_dir, model=student, optimizer=optimizer,
                        counters={**state, "request": request})  # fmt: skip

    try:
        for epoch in range(state["epoch"], config.epochs):
            done = state["batch"]
            for batch in itertools.islice(batches(epoch), done, None):
                with torch.no_grad():
                    t_out = task.predict(teacher, batch)
                s_out = task.predict(student, batch)
                loss = task.loss(s_out, task.target(batch))
                loss = loss + config.output_weight * (s_out - t_out).abs().square().mean()
                att = sum(((taps_s.maps[n] - taps_t.maps[n]).square().sum(1).mean()
                           for n, _ in points), torch.zeros(()))  # fmt: skip
                loss = loss + config.attention_weight * att
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
                optimizer.step()
                state["step"] += 1
                state["batch"] += 1
                for g in optimizer.param_groups:
                    g["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * min(1.0,
                                                                          state["step"] / total)))  # fmt: skip
                state["epoch_loss"] += float(loss.detach()) * len(s_out)
                state["count"] += len(s_out)
                if progress is not None:
                    progress(len(s_out))
                if checkpoint_dir is not None and time.monotonic() - saved_at >= checkpoint_every_s:
                    save()
                    saved_at = time.monotonic()
            state["losses"].append(state["epoch_loss"] / max(state["count"], 1))
            state.update(epoch=epoch + 1, batch=0, epoch_loss=0.0, count=0)
            if checkpoint_dir is not None:
                save()
                saved_at = time.monotonic()
        losses = list(state["losses"])
    finally:
        taps_s.close()
        taps_t.close()
        student.eval()
    return losses


def _resume(checkpoint_dir: Path | None, student: nn.Module, optimizer: torch.optim.Optimizer,
            request: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The loop counters: fresh, or restored (with weights, AdamW and RNG) from a checkpoint."""
    fresh = {"epoch": 0, "batch": 0, "step": 0, "epoch_loss": 0.0, "count": 0, "losses": []}
    if checkpoint_dir is None or read_counters(checkpoint_dir) is None:
        return fresh
    stored = read_counters(checkpoint_dir).get("request")
    if stored != request:
        keys = sorted(k for k in {*request, *(stored or {})}
                      if (stored or {}).get(k) != request.get(k))  # fmt: skip
        raise CompressionError(f"the fine-tuning checkpoint in {checkpoint_dir} is of another "
                               f"job (differs in: {', '.join(keys)}); use a new --out")  # fmt: skip
    counters = load_checkpoint(checkpoint_dir, model=student, optimizer=optimizer)
    return {k: counters[k] for k in fresh}
