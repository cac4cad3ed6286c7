"""Graph rewrites for the x86 lowering of a PT2E-quantized real core (see ``quantize.py``).

Both keep the function and remove work that ``torch.export``'s decomposition leaves behind:

- :func:`fold_transposed_linears`: a linear applied to a transposed 3-D tensor (what
  ``nn.MultiheadAttention(batch_first=True)`` does for its packed in-projection) is
  decomposed into a batched matmul against the weight broadcast over the sequence, plus a
  separate bias add. It becomes a linear of the contiguous tensor, transposed after, which
  Inductor's freezing passes then lower to one packed ``mkl_linear`` with the bias fused.
- :func:`drop_identity_clones`: ``aten.clone`` of a tensor that is contiguous already.
"""

from __future__ import annotations

import operator

import torch
from torch._guards import detect_fake_mode

__all__ = ["drop_identity_clones", "fold_transposed_linears"]

aten = torch.ops.aten


def _val(graph: torch.fx.GraphModule, node: torch.fx.Node) -> torch.Tensor:
    """A node's (fake) value: ``meta["val"]``, or the parameter itself for a ``get_attr``."""
    if "val" in node.meta:
        return node.meta["val"]
    if node.op == "get_attr":
        return operator.attrgetter(node.target)(graph)
    # e.g. a permute of a parameter (export leaves no value on those): evaluate it
    args = [_val(graph, a) if isinstance(a, torch.fx.Node) else a for a in node.args]
    return node.target(*args)


def _call(graph: torch.fx.GraphModule, before: torch.fx.Node, op, *args) -> torch.fx.Node:
    """Insert ``op(*args)`` before ``before``, with its fake value in ``meta["val"]``."""
    with graph.graph.inserting_before(before):
        node = graph.graph.call_function(op, args=args)
    vals = [_val(graph, a) if isinstance(a, torch.fx.Node) else a for a in args]
    mode = detect_fake_mode([v for v in vals if isinstance(v, torch.Tensor)])
    with mode:
        fake = [mode.from_tensor(v) if isinstance(v, torch.Tensor)
                and not isinstance(v, torch._subclasses.FakeTensor) else v for v in vals]  # fmt: skip
        node.meta["val"] = op(*fake)
    return node


def _skip_noops(node: torch.fx.Node) -> torch.fx.Node:
    """Follow ``view``/``expand`` nodes that keep their input's shape back to that input."""
    while (isinstance(node, torch.fx.Node) and node.op == "call_function"
           and node.target in (aten.view.default, aten.expand.default)
           and isinstance(node.args[0], torch.fx.Node) and "val" in node.args[0].meta
           and node.meta["val"].shape == node.args[0].meta["val"].shape):  # fmt: skip
        node = node.args[0]
    return node


def _transposed_input(a: torch.fx.Node) -> torch.fx.Node | None:
    """``x`` if ``a`` is ``transpose(x, 0, 1)`` of a contiguous 3-D ``x`` (through no-ops)."""
    t = _skip_noops(a)
    if t.op != "call_function" or t.target != aten.transpose.int or set(t.args[1:]) != {0, 1}:
        return None
    x = t.args[0]
    val = x.meta.get("val") if isinstance(x, torch.fx.Node) else None
    return x if val is not None and val.ndim == 3 and val.is_contiguous() else None


def _broadcast_weight(b: torch.fx.Node) -> torch.fx.Node | None:
    """``w_t`` (``permute(w, [1, 0])`` or ``t(w)``) if ``b`` is ``w_t`` expanded over a batch dim."""
    e = _skip_noops(b)
    if e.op != "call_function" or e.target != aten.expand.default:
        return None
    w_t = e.args[0]
    if not isinstance(w_t, torch.fx.Node):
        return None
    if w_t.target == aten.t.default or (w_t.target == aten.permute.default
                                        and list(w_t.args[1]) == [1, 0]):  # fmt: skip
        return w_t
    return None


def _bias_add(graph: torch.fx.GraphModule, out: torch.fx.Node) -> torch.fx.Node | None:
    """The single ``add(out, bias)`` of a 1-D parameter that consumes ``out``, if any."""
    users = list(out.users)
    if len(users) == 1 and users[0].target == aten.view.default and _skip_noops(users[0]) is out:
        out, users = users[0], list(users[0].users)
    if len(users) != 1 or users[0].target != aten.add.Tensor or users[0].args[0] is not out:
        return None
    bias = users[0].args[1]
    if not isinstance(bias, torch.fx.Node) or bias.op != "get_attr":
        return None
    return users[0] if _val(graph, bias).shape == out.meta["val"].shape[-1:] else None


def fold_transposed_linears(graph: torch.fx.GraphModule) -> int:
    """Rewrite ``bmm(transpose(x, 0, 1), expand(w.T)) [+ b]`` as ``transpose(x @ w.T [+ b], 0, 1)``.

    ``x`` [B, T, K] contiguous, ``w`` [N, K]: the batched matmul multiplies each of the T
    slices by the same broadcast weight and leaves the bias to a separate pass; the linear
    of the flat ``x`` [B*T, K] is one matrix product with the bias fused (``addmm``). The
    result is the same [T, B, N] tensor as a transposed view, which the attention's
    following ``view``/``transpose``/``clone`` accept as before.

    Returns:
        The number of linears rewritten.
    """
    done = 0
    for node in list(graph.graph.nodes):
        if node.op != "call_function" or node.target != aten.bmm.default:
            continue
        x, w_t = _transposed_input(node.args[0]), _broadcast_weight(node.args[1])
        if x is None or w_t is None:
            continue
        _, t, k = x.meta["val"].shape
        n = _val(graph, w_t).shape[-1]
        add = _bias_add(graph, node)
        flat = _call(graph, node, aten.view.default, x, [-1, k])
        if add is None:
            y = _call(graph, node, aten.mm.default, flat, w_t)
        else:
            y = _call(graph, node, aten.addmm.default, add.args[1], flat, w_t)
        out = _call(graph, node, aten.transpose.int, _call(graph, node, aten.view.default, y,
                                                          [-1, t, n]), 0, 1)  # fmt: skip
        (add if add is not None else _last_noop_view(node)).replace_all_uses_with(out)
        done += 1
    graph.graph.eliminate_dead_code()
    graph.recompile()
    return done


def _last_noop_view(node: torch.fx.Node) -> torch.fx.Node:
    """``node``'s single shape-keeping ``view`` user if it has one (what its users read), else it."""
    users = list(node.users)
    if len(users) == 1 and users[0].target == aten.view.default and _skip_noops(users[0]) is node:
        return users[0]
    return node


def drop_identity_clones(graph: torch.fx.GraphModule) -> int:
    """Remove the ``aten.clone`` nodes of a contiguous input (eval-mode dropout, MHA's copies).

    A plain clone of a tensor that is contiguous already only costs a copy: 8 of them per
    AdaFortiTran ``cpu`` call, about 3 % of the int8 time. Kept: a clone with a
    ``memory_format``, of a graph input, returned as an output, or feeding an op that
    writes into an argument (e.g. oneDNN's in-place ``sum`` post-op), where the copy matters.

    Returns:
        The number of clones removed.
    """
    dropped = 0
    for node in list(graph.graph.nodes):
        if node.op != "call_function" or node.target != torch.ops.aten.clone.default:
            continue
        val = node.args[0].meta.get("val") if isinstance(node.args[0], torch.fx.Node) else None
        if node.kwargs or val is None or not val.is_contiguous() or not _copy_free(node):
            continue
        node.replace_all_uses_with(node.args[0])
        graph.graph.erase_node(node)
        dropped += 1
    graph.recompile()
    return dropped


def _copy_free(clone: torch.fx.Node) -> bool:
    """Whether nothing can observe that ``clone`` and its input share memory."""
    if clone.args[0].op == "placeholder":
        return False
    for user in clone.users:
        if user.op == "output":
            return False
        schema = getattr(user.target, "_schema", None)
        if schema is None:  # a Python callable: only getitem is known not to write
            if user.target is not operator.getitem:
                return False
        elif any(a.alias_info is not None and a.alias_info.is_write for a in schema.arguments):
            return False
    return True
