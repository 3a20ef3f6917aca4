"""Forward cost of an ONNX model file, counted from its graph as torch's counter counts PyTorch.

The graph's input is fixed at the counted shape (batch 1, or the ``T`` frames of one clip for a
frame model) and ``onnx.shape_inference.infer_shapes(data_prop=True)`` gives every tensor a
concrete shape; then each ``Conv``/``ConvTranspose`` counts ``2 N prod(weight) prod(spatial)``
(the output's spatial size; the input's for a transposed convolution), each ``Gemm`` and
``MatMul`` ``2 M K N`` per (broadcast) batch, and a two-operand ``Einsum`` that contracts an
index 2 x the product of the sizes of its indices that are in the output or in both operands
(the batched product torch reduces it to; without a contraction torch multiplies element-wise,
0): what ``torch.utils.flop_counter.FlopCounterMode`` counts for the same network
(convolutions and matrix products; biases, element-wise operations, normalisation, pooling and
recurrent cells ignored). The graph holds only what computes the features, so a forward that
also computes unused outputs (a classifier's logits) counts more in PyTorch. A graph the count
cannot see through (a shape shape inference leaves unknown, control flow, an ``Einsum`` of more
than two operands or with an ellipsis, local functions, another domain) is not counted: ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from reidbench.adapters.modelfile.onnx_file import FLOAT_TENSOR_TYPES

__all__ = ["ONNX_FLOPS_COUNTER", "onnx_graph_flops"]

#: Recorded beside the numbers (provenance: what counted them).
ONNX_FLOPS_COUNTER = ("reidbench.engine.onnx_flops (Conv, ConvTranspose, Gemm, MatMul, Einsum; "
                      "shapes by onnx.shape_inference)")
_COUNTED = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"})
_OPAQUE = frozenset({"If", "Loop", "Scan", "QLinearConv", "QLinearMatMul",
                     "ConvInteger", "MatMulInteger"})


def onnx_graph_flops(model: Any, input_shape: Sequence[int]) -> int | None:
    """FLOPs of one run of ``model`` on an input of ``input_shape``; None if not countable.

    Args:
        model: An ``onnx.ModelProto`` (not modified).
        input_shape: The concrete shape of its single graph input.
    """
    import onnx

    if any(fn for fn in model.functions):
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in m.graph.initializer:  # shapes need the dims only; keep small integer constants
        if t.data_type in FLOAT_TENSOR_TYPES or t.data_location == onnx.TensorProto.EXTERNAL:
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.ClearField("double_data")
            t.ClearField("int32_data")
            t.ClearField("external_data")
            t.data_location = onnx.TensorProto.DEFAULT
    init = {t.name for t in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in init]
    if len(inputs) != 1 or len(inputs[0].type.tensor_type.shape.dim) != len(input_shape):
        return None
    for dim, size in zip(inputs[0].type.tensor_type.shape.dim, input_shape, strict=True):
        dim.Clear()
        dim.dim_value = int(size)
    for out in m.graph.output:  # drop the declared (symbolic) batch axis: inference sets it
        out.type.tensor_type.ClearField("shape")
    try:
        m = onnx.shape_inference.infer_shapes(m, data_prop=True)
    except Exception:  # noqa: BLE001 - an inference failure means not countable
        return None
    shapes = {t.name: list(t.dims) for t in m.graph.initializer}
    for v in [*m.graph.input, *m.graph.value_info, *m.graph.output]:
        shape = v.type.tensor_type.shape
        if v.type.tensor_type.HasField("shape") and all(d.HasField("dim_value")
                                                        for d in shape.dim):
            shapes[v.name] = [d.dim_value for d in shape.dim]
    total = 0
    for node in m.graph.node:
        if node.op_type in _OPAQUE or node.domain not in ("", "ai.onnx"):
            return None
        if node.op_type not in _COUNTED:
            continue
        flops = _node_flops(node, shapes)
        if flops is None:
            return None
        total += flops
    return total


def _node_flops(node: Any, shapes: dict[str, list[int]]) -> int | None:
    if node.op_type == "Einsum":
        return _einsum_flops(node, shapes)
    try:
        a, b = (shapes[name] for name in node.input[:2])
        y = shapes[node.output[0]]
    except KeyError:
        return None
    if node.op_type == "Conv":
        return 2 * y[0] * math.prod(b) * math.prod(y[2:])
    if node.op_type == "ConvTranspose":
        return 2 * a[0] * math.prod(b) * math.prod(a[2:])
    if node.op_type == "Gemm":
        trans = {attr.name: attr.i for attr in node.attribute}
        m, k = (a[1], a[0]) if trans.get("transA") else (a[0], a[1])
        n = b[0] if trans.get("transB") else b[1]
        return 2 * m * k * n
    a = [1, *a] if len(a) == 1 else a
    b = [*b, 1] if len(b) == 1 else b
    batch = _broadcast(a[:-2], b[:-2])
    return None if batch is None else 2 * math.prod(batch) * a[-2] * a[-1] * b[-1]


def _einsum_flops(node: Any, shapes: dict[str, list[int]]) -> int | None:
    equation = next((a.s.decode() for a in node.attribute if a.name == "equation"), "")
    terms, _, out = equation.replace(" ", "").partition("->")
    operands = terms.split(",")
    if not out or "." in equation or len(operands) != 2 or len(node.input) != 2:
        return None
    size: dict[str, int] = {}
    for term, name in zip(operands, node.input, strict=True):
        shape = shapes.get(name)
        if shape is None or len(shape) != len(term):
            return None
        size.update(zip(term, shape, strict=True))
    shared = set(operands[0]) & set(operands[1])
    if not shared - set(out):  # nothing contracted: torch multiplies element-wise, uncounted
        return 0
    return 2 * math.prod(n for i, n in size.items() if i in out or i in shared)


def _broadcast(x: list[int], y: list[int]) -> list[int] | None:
    n = max(len(x), len(y))
    x, y = [1] * (n - len(x)) + x, [1] * (n - len(y)) + y
    if any(p != q and 1 not in (p, q) for p, q in zip(x, y, strict=True)):
        return None
    return [max(p, q) for p, q in zip(x, y, strict=True)]
