"""ONNX model files: checked as data, then run with onnxruntime.

An ONNX file is a protobuf graph of operators and its weights; running it executes no Python.
Before a session is created the file is parsed with ``onnx`` and refused when it

* is larger than :data:`MAX_ONNX_BYTES` (protobuf's own limit is 2 GiB),
* references external data (``TensorProto.data_location = EXTERNAL``) outside the model's folder
  (an absolute path, ``..``, or a link resolving elsewhere), or larger than the file it names,
* uses an operator outside the standard domains (``""``/``ai.onnx``, ``ai.onnx.ml``) that is not
  one of the model's own local functions built from standard operators: a custom domain needs a
  custom-op library, which reidbench never registers,
* has not exactly one graph input, an input whose rank is not the declared one (5 for clips,
  4 for frames), a fixed batch axis, or an output that is not 2-D.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reidbench.errors import CheckpointError, describe, first_line

__all__ = ["FLOAT_TENSOR_TYPES", "MAX_ONNX_BYTES", "STANDARD_DOMAINS", "OnnxModel",
           "inspect_onnx", "onnx_parameter_count"]

#: ``TensorProto`` data types of floating-point tensors: FLOAT, FLOAT16, DOUBLE, BFLOAT16.
FLOAT_TENSOR_TYPES = frozenset({1, 10, 11, 16})
#: Largest ONNX file read (bytes); external data files are bounded by the same figure in all.
MAX_ONNX_BYTES = 2 * 1024**3
#: Operator domains of the ONNX standard.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
EXPORT_HINT = ('export with a dynamic batch axis: torch.onnx.export(model, example, path, '
               'input_names=["input"], output_names=["features"], dynamic_axes={"input": '
               '{0: "batch"}, "features": {0: "batch"}}), or use `reidbench export`')


def inspect_onnx(data: bytes, path: Path) -> tuple[Any, bool, dict[str, str]]:
    """Parse and check an ONNX file's bytes.

    Returns:
        ``(ModelProto, whether it uses external data, its metadata_props)``.

    Raises:
        CheckpointError: Not an ONNX model, or one of the refusals of this module.
    """
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        model = None
    if model is None or model.ir_version <= 0 or not model.HasField("graph"):
        raise not_a_model(path)
    where = str(path)
    _check_domains(model, where)
    external = _check_external_data(model, path)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - any checker failure is a malformed model
        first = first_line(exc)
        raise CheckpointError(describe("ONNX model", where, "a graph onnx.checker accepts",
                                       first.strip()[:160], "re-export the model")) from None
    props = {p.key: p.value for p in model.metadata_props}
    return model, external, props


def not_a_model(path: Path) -> CheckpointError:
    """The one line for a file that is neither ONNX nor TorchScript."""
    return CheckpointError(describe("model file", str(path), "an ONNX model (.onnx) or a "
                                    "TorchScript archive (torch.jit.save)", "neither",
                                    "export the network with torch.onnx.export or "
                                    "torch.jit.save, or with `reidbench export`"))


def _graphs(model: Any) -> list[tuple[Any, str]]:
    """Every node list (main graph, subgraphs of If/Loop/Scan, local functions) with a label."""
    import onnx

    found: list[tuple[Any, str]] = []

    def walk(graph: Any, label: str) -> None:
        found.append((graph.node, label))
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g, f"{label}/{node.op_type}")
                for sub in attr.graphs:
                    walk(sub, f"{label}/{node.op_type}")

    walk(model.graph, "graph")
    for fn in model.functions:
        found.append((fn.node, f"function {fn.domain}:{fn.name}"))
    return found


def _check_domains(model: Any, where: str) -> None:
    local = {(fn.domain, fn.name) for fn in model.functions}
    for nodes, label in _graphs(model):
        for node in nodes:
            if node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in local:
                continue
            raise CheckpointError(describe(f"operator {node.domain}:{node.op_type}",
                                           f"{where} ({label})", "operators of the standard "
                                           f"ONNX domains {sorted(STANDARD_DOMAINS)}",
                                           f"domain {node.domain!r}, which needs a custom "
                                           "operator library (refused: it would run native "
                                           "code from outside the file)", "export with "
                                           "standard operators only (torch.onnx.export without "
                                           "custom_opsets)"))


def _tensors(model: Any) -> list[Any]:
    import onnx

    out = list(model.graph.initializer)
    out += [s.values for s in model.graph.sparse_initializer]
    for nodes, _ in _graphs(model):
        for node in nodes:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    out.append(attr.t)
                out.extend(attr.tensors)

    def walk(graph: Any) -> None:
        for node in graph.node:
            for attr in node.attribute:
                subs = ([attr.g] if attr.type == onnx.AttributeProto.GRAPH else []) + list(
                    attr.graphs)
                for sub in subs:
                    out.extend(sub.initializer)
                    walk(sub)

    walk(model.graph)
    return out


def onnx_parameter_count(model: Any) -> int:
    """Elements of the graph's floating-point tensors: initializers and constants, subgraphs too.

    What the file stores, which is not always what the PyTorch module counted: the exporter
    folds an eval-mode BatchNorm after a convolution into the convolution's weight and bias (its
    parameters vanish), and a BatchNorm it keeps brings its running statistics (buffers in
    PyTorch). Integer tensors (shapes, indices) are not counted. Read from the tensors' declared
    dims; nothing is loaded.
    """
    return sum(math.prod(int(d) for d in t.dims) for t in _tensors(model)
               if t.data_type in FLOAT_TENSOR_TYPES)


def _check_external_data(model: Any, path: Path) -> bool:
    """Refuse external data outside the model's folder; return whether any is used."""
    import onnx

    folder = path.resolve().parent
    total = 0
    used = False
    for tensor in _tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        used = True
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        target = (folder / location).resolve()
        inside = bool(location) and not Path(location).is_absolute() and (
            target == folder or folder in target.parents)
        if not inside or ".." in Path(location).parts:
            raise CheckpointError(describe(f"external data of tensor {tensor.name!r}", str(path),
                                           "a file inside the model's folder",
                                           f"location {location[:120]!r}", "save the weights "
                                           "inside the model file or beside it "
                                           "(onnx.save(..., save_as_external_data=True))"))
        if not target.is_file():
            raise CheckpointError(describe(f"external data of tensor {tensor.name!r}", str(path),
                                           "an existing file", f"no {location!r}",
                                           "copy the data file beside the model"))
        size = target.stat().st_size
        try:
            offset = int(entries.get("offset", "0"))
            length = int(entries.get("length", str(size - offset)))
        except ValueError:
            offset, length = -1, -1
        if offset < 0 or length < 0 or offset + length > size:
            raise CheckpointError(describe(f"external data of tensor {tensor.name!r}", str(path),
                                           f"a range inside {location!r} ({size} bytes)",
                                           f"offset {entries.get('offset')}, length "
                                           f"{entries.get('length')}", "re-save the model"))
        total += length
        if total > MAX_ONNX_BYTES:
            raise CheckpointError(describe("external data", str(path), f"at most "
                                           f"{MAX_ONNX_BYTES} bytes in all", "more", ""))
    return used


def io_shapes(model: Any) -> tuple[str, list[Any], list[Any]]:
    """``(input name, input dims, first output's dims)``; a dim is an int, a name or None."""
    init = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    if len(inputs) != 1 or not model.graph.output:
        raise CheckpointError(describe("graph inputs", "the ONNX model", "one input (the frames "
                                       "or clips) and at least one output",
                                       f"{len(inputs)} inputs, {len(model.graph.output)} outputs",
                                       "export forward(x) with a single tensor argument"))

    def dims(value: Any) -> list[Any]:
        shape = value.type.tensor_type.shape
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                for d in shape.dim]

    return inputs[0].name, dims(inputs[0]), dims(model.graph.output[0])


class OnnxModel:
    """An onnxruntime session over a checked ONNX file.

    Args:
        data: The file's bytes (already checked by :func:`inspect_onnx`).
        path: The file (sessions with external data are created from it, so that onnxruntime
            finds the data files beside it).
        external: Whether the model uses external data.
        device: ``"cpu"`` or ``"cuda[:i]"``: the CUDA execution provider is used when the
            installed onnxruntime has it and a CUDA device was asked for.
    """

    runtime = "onnxruntime"
    format = "onnx"

    def __init__(self, data: bytes, path: Path, external: bool, device: str = "cpu") -> None:
        import onnxruntime as ort

        self.version = ort.__version__
        providers: list[Any] = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            index = int(device.split(":")[1]) if ":" in device else 0
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": index}))
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path) if external else data,
                                                sess_options=options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            first = first_line(exc)
            raise CheckpointError(describe("ONNX model", str(path), "a model onnxruntime "
                                           f"{self.version} can load", first.strip()[:160],
                                           "re-export it with a standard opset")) from None
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: Any) -> Any:
        """Run on a float32 numpy array; return the first output as a numpy array."""
        return self.session.run(None, {self.input_name: x})[0]
