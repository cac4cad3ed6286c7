"""Every pass on a tiny trained AdaFortiTran: quantize_ (3 modes), prune_ + distillation,
export_onnx; and the refusals of each."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from wirelessml.efficiency import (
    CompressionError,
    DistillConfig,
    Int8DynamicConfig,
    Int8StaticConfig,
    Int8WeightOnlyConfig,
    PruneConfig,
    distill_finetune,
    export_onnx,
    prune_,
    quantize_,
    real_inputs,
)
from wirelessml.efficiency.measure import load_batches, parameters
from wirelessml.errors import ConfigError
from wirelessml.train import load_run


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().norm() / b.abs().norm())


@pytest.fixture
def loaded(tiny_run):
    run, train_path, val_path = tiny_run
    task, model, _ = load_run(run)
    return task, model, load_batches(val_path, task.fields, batch_size=24)


@pytest.mark.parametrize("config", [Int8WeightOnlyConfig(), Int8DynamicConfig(),
                                    Int8StaticConfig()], ids=lambda c: c.mode)  # fmt: skip
def test_quantized_output_close_to_float(loaded, config) -> None:
    task, model, batches = loaded
    with torch.no_grad():
        ref = task.predict(model, batches[1])
    calib = real_inputs(model, task, batches[:1]) if config.mode == "int8-static" else None
    quantize_(model, config, calibration=calib)
    with torch.no_grad():
        out = task.predict(model, batches[1])
    assert out.dtype == torch.complex64 and out.shape == ref.shape
    assert 0 < _rel(out, ref) < 0.05
    if config.mode == "int8-static":  # convolutions run as oneDNN int8 ops
        targets = [str(n.target) for n in model._wirelessml_core.graph.nodes]
        assert sum("qconv_pointwise" in t for t in targets) == 6
    else:  # the linears outside attention hold torchao int8 tensors
        assert type(model.upsample.weight) is not nn.Parameter  # a torchao tensor subclass
        assert "int8" in repr(model.upsample.weight).lower()
        assert type(model.encoder.layers[0].self_attn.out_proj.weight) is nn.Parameter


def test_prune_respects_ratio_per_group(loaded) -> None:
    task, model, batches = loaded
    before = parameters(model)
    groups = prune_(model, PruneConfig(ratio=0.5))
    assert set(groups) == {"conv", "attention", "feed-forward", "prior-mlp"}
    for name, g in groups.items():
        removed = g["channels_before"] - g["channels_after"]
        assert removed == math.floor(0.5 * g["channels_before"]), name
    assert groups["attention"]["layers"] == {"embed": 4}  # d_model 8 -> 4, 2 heads of 2
    assert model.encoder.layers[0].self_attn.in_proj_weight.shape == (12, 4)
    assert model.pos_embedding.shape[-1] == 4
    assert parameters(model) < 0.7 * before  # upsample and prior outputs are not prunable
    with torch.no_grad():
        assert task.predict(model, batches[0]).shape == batches[0]["h"].shape


def test_group_ratio_override_and_bad_ratios(loaded) -> None:
    task, model, _ = loaded
    groups = prune_(model, PruneConfig(ratio=0.25, group_ratios={"attention": 0}))
    assert "attention" not in groups and groups["feed-forward"]["channels_after"] == 12
    for bad in (0, 1, 1.5, -0.1, True):
        with pytest.raises(ConfigError, match="ratio"):
            PruneConfig(ratio=bad)
    with pytest.raises(ConfigError, match="group_ratios"):
        PruneConfig(group_ratios={"bogus": 0.5})


def test_distillation_fine_tuning_lowers_its_loss(loaded) -> None:
    task, model, batches = loaded
    teacher = copy.deepcopy(model)
    prune_(model, PruneConfig(ratio=0.5))
    config = DistillConfig(epochs=3, lr=3e-3, batch_size=24)
    seen = []
    losses = distill_finetune(model, teacher, task, lambda e: batches, config,
                              steps_per_epoch=len(batches), progress=seen.append)  # fmt: skip
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert sum(seen) == 3 * sum(len(b["h"]) for b in batches)
    assert not model.training and not teacher.training


class _Killed(Exception):
    pass


def test_interrupted_fine_tuning_resumes_to_the_same_weights(loaded, tmp_path) -> None:
    task, model, batches = loaded
    teacher = copy.deepcopy(model)
    prune_(model, PruneConfig(ratio=0.5))
    config = DistillConfig(epochs=2, lr=3e-3, batch_size=24)
    steps, request = len(batches), {"job": "a"}
    straight = copy.deepcopy(model)
    torch.manual_seed(0)
    expected = distill_finetune(straight, teacher, task, lambda e: batches, config,
                                steps_per_epoch=steps)  # fmt: skip

    def killed_after(n: int):
        seen = iter(range(n))

        def batches_of(epoch: int):
            for batch in batches:
                if next(seen, None) is None:
                    raise _Killed
                yield batch

        return batches_of

    torch.manual_seed(0)
    with pytest.raises(_Killed):  # killed in epoch 2, after a checkpoint at every step
        distill_finetune(model, teacher, task, killed_after(steps + 1), config,
                         steps_per_epoch=steps, checkpoint_dir=tmp_path,
                         checkpoint_every_s=0.0, request=request)  # fmt: skip
    resumed = copy.deepcopy(teacher)  # a fresh process: rebuild the pruned student
    prune_(resumed, PruneConfig(ratio=0.5))
    torch.manual_seed(123)  # the checkpoint restores the RNG
    losses = distill_finetune(resumed, teacher, task, lambda e: batches, config,
                              steps_per_epoch=steps, checkpoint_dir=tmp_path,
                              request=request)  # fmt: skip
    assert losses == pytest.approx(expected, rel=1e-6)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(),
                            strict=True):  # fmt: skip
        assert torch.allclose(a, b, atol=1e-6), name
    with pytest.raises(CompressionError, match="another job .*job"):
        distill_finetune(copy.deepcopy(resumed), teacher, task, lambda e: batches, config,
                         steps_per_epoch=steps, checkpoint_dir=tmp_path, request={"job": "b"})  # fmt: skip


def test_onnx_matches_pytorch(loaded, tmp_path) -> None:
    task, model, batches = loaded
    prune_(model, PruneConfig(ratio=0.5))  # a pruned model exports too
    inputs = real_inputs(model, task, batches[:1])[0]
    result = export_onnx(model, tmp_path / "m.onnx", inputs=inputs)
    assert result["inputs"] == len(inputs[0]) and (tmp_path / "m.onnx").stat().st_size > 0
    assert result["max_rel_error"] < 1e-4
    import onnx

    graph = onnx.load(tmp_path / "m.onnx").graph
    assert [i.name for i in graph.input] == ["pilots", "priors"]


class _ComplexNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4, dtype=torch.complex64)


class _ComplexCore(_ComplexNet):
    real_core_inputs = ("x",)

    def forward_real(self, x):
        return self.lin(x)

    def real_core_example(self, n=4):
        return (torch.zeros(n, 4),)


def test_refusals(loaded, tmp_path) -> None:
    with pytest.raises(CompressionError, match="complex-valued and declares no real-valued core"):
        quantize_(_ComplexNet(), Int8DynamicConfig())
    with pytest.raises(CompressionError, match="export to ONNX _ComplexNet.*complex-valued"):
        export_onnx(_ComplexNet(), tmp_path / "x.onnx")
    with pytest.raises(CompressionError, match=r"cannot quantize layer\(s\) lin "):
        quantize_(_ComplexCore(), Int8WeightOnlyConfig())
    with pytest.raises(CompressionError, match="Conv2d layers and _ComplexCore has none|lin"):
        quantize_(_ComplexCore(), Int8StaticConfig())
    task, model, batches = loaded
    with pytest.raises(CompressionError, match="needs calibration data"):
        quantize_(model, Int8StaticConfig(), calibration=[])
    quantize_(model, Int8DynamicConfig())
    with pytest.raises(CompressionError, match="quantized already"):
        quantize_(model, Int8DynamicConfig())
    with pytest.raises(CompressionError, match="prune before quantizing"):
        prune_(model, PruneConfig())
    with pytest.raises(CompressionError, match="not a quantized one"):
        export_onnx(model, tmp_path / "q.onnx")


def test_identity_clones_dropped_only_where_no_copy_is_observable() -> None:
    from wirelessml.efficiency.x86_passes import drop_identity_clones

    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y = torch.relu(x).clone()  # contiguous input: a pure copy
            z = (y * 2).transpose(0, 1).clone()  # not contiguous: the copy is a layout change
            return y + 1, z.clone()  # a clone returned as output is kept

    x = torch.randn(3, 4)
    graph = torch.export.export(Net(), (x,)).module()
    ref = graph(x)
    assert drop_identity_clones(graph) == 1
    clones = [n for n in graph.graph.nodes if n.target == torch.ops.aten.clone.default]
    assert len(clones) == 2
    for a, b in zip(graph(x), ref, strict=True):
        assert torch.equal(a, b)


def test_transposed_linears_folded_into_one_matmul_same_output() -> None:
    from wirelessml.efficiency.x86_passes import fold_transposed_linears

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.mha(x, x, x, need_weights=False)[0]

    torch.manual_seed(0)
    net, x = Net().eval(), torch.randn(3, 5, 8)
    table = torch.export.default_decompositions()
    for op in list(table):  # as the x86 lowering: only the composite-implicit ops
        if not torch._export.utils._is_cia_op(op):
            del table[op]
    with torch.no_grad():
        batch = {0: torch.export.Dim("batch", min=2, max=64)}  # dynamic, as in quantize_
        graph = torch.export.export(net, (x,), dynamic_shapes=(batch,))
        graph = graph.run_decompositions(table).module()
        bmm = lambda: sum(n.target == torch.ops.aten.bmm.default for n in graph.graph.nodes)  # noqa: E731
        before = bmm()
        assert fold_transposed_linears(graph) == 1  # the packed q/k/v in-projection
        assert bmm() == before - 1
        assert torch.allclose(graph(x), net(x), atol=1e-6)
        assert torch.allclose(graph(x[:2]), net(x[:2]), atol=1e-6)
