"""An ONNX graph of a BERT sentence encoder, written from a sentence-transformers model directory without torch.

The graph is built node by node from the directory's ``config.json`` (sizes, layer-norm epsilon, activation) and
the weights in its ``model.safetensors``, and computes what sentence-transformers computes for such a model:

    word + position + token-type(0) embeddings → LayerNorm
    per layer: self-attention (scaled dot product, padded positions masked) → add & LayerNorm
               → dense → GELU (erf) → dense → add & LayerNorm
    mean of the last hidden states over the attention mask (sentence-transformers' mean pooling)
    → L2 normalization (``Normalize``), when the model's modules ask for it

Inputs: ``input_ids`` and ``attention_mask`` (int64, batch x sequence). Output: ``sentence_embedding`` (float32,
batch x hidden). Only one segment is fed (a sentence encoder's single text), so the token-type embedding is row 0,
folded into the position table. Attention is ONNX Runtime's own ``MultiHeadAttention`` (domain ``com.microsoft``;
padded keys masked by the attention mask); ONNX Runtime fuses bias and GELU when it loads the graph.

``dynamic_int8`` quantizes the matrix multiplications' weights to int8 (ONNX Runtime's dynamic quantization).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto

GRAPH_VERSION = 2  # bump when the graph written here changes, so that cached graphs are written again
OPSET = 17  # LayerNormalization is a standard op from 17


class UnsupportedModel(ValueError):
    """The directory does not hold a model this builder can write (with the reason)."""


@dataclass(frozen=True)
class EncoderConfig:
    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float
    max_positions: int
    pooling: str  # "mean" or "cls"
    normalize: bool


def read_config(model_dir: Path) -> EncoderConfig:
    """The encoder's sizes and head from the model directory; ``UnsupportedModel`` for anything but a BERT with
    absolute positions, GELU, and mean or CLS pooling."""
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UnsupportedModel(f"no readable config.json: {exc.__class__.__name__}") from exc
    if config.get("model_type") != "bert":
        raise UnsupportedModel(f"model_type {config.get('model_type')!r}; only 'bert' is supported")
    if config.get("hidden_act", "gelu") != "gelu":
        raise UnsupportedModel(f"hidden_act {config.get('hidden_act')!r}; only 'gelu' is supported")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UnsupportedModel("only absolute position embeddings are supported")
    pooling = "mean"
    pooling_file = model_dir / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        options = json.loads(pooling_file.read_text())
        modes = [name for name, on in options.items() if name.startswith("pooling_mode_") and on is True]
        if modes == ["pooling_mode_cls_token"]:
            pooling = "cls"
        elif modes != ["pooling_mode_mean_tokens"]:
            raise UnsupportedModel(f"pooling {modes}; only mean or CLS pooling is supported")
    normalize = True
    modules_file = model_dir / "modules.json"
    if modules_file.is_file():
        modules = json.loads(modules_file.read_text())
        normalize = any(str(m.get("type", "")).endswith(".Normalize") for m in modules)
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    if hidden % heads:
        raise UnsupportedModel(f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    return EncoderConfig(
        hidden=hidden,
        heads=heads,
        layers=int(config["num_hidden_layers"]),
        intermediate=int(config["intermediate_size"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        max_positions=int(config["max_position_embeddings"]),
        pooling=pooling,
        normalize=normalize,
    )


def max_sequence_length(model_dir: Path, config: EncoderConfig) -> int:
    """The longest input in tokens: ``max_seq_length`` of ``sentence_bert_config.json``, else the position table."""
    path = model_dir / "sentence_bert_config.json"
    if path.is_file():
        value = json.loads(path.read_text()).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return min(value, config.max_positions)
    return config.max_positions


def _weights(model_dir: Path) -> dict[str, np.ndarray[Any, Any]]:
    from safetensors.numpy import load_file

    path = model_dir / "model.safetensors"
    if not path.is_file():
        raise UnsupportedModel("no model.safetensors")
    tensors = load_file(str(path))
    # checkpoints are saved with or without the "bert." prefix of BertModel inside a task head
    return {name.removeprefix("bert."): value.astype(np.float32) for name, value in tensors.items()}


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray[Any, Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], outputs: int = 1, domain: str = "", **attributes: Any) -> Any:
        from onnx import helper

        self._count += 1
        names = [f"{kind.lower()}_{self._count}" + (f"_{i}" if outputs > 1 else "") for i in range(outputs)]
        node = helper.make_node(kind, inputs, names, name=f"n{self._count}_{kind}", domain=domain, **attributes)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names


def build(model_dir: Path) -> ModelProto:
    """The encoder of ``model_dir`` as an ``onnx.ModelProto`` (see the module's docstring)."""
    from onnx import TensorProto, helper

    config = read_config(model_dir)
    w = _weights(model_dir)
    try:
        return _build(config, w, helper, TensorProto)
    except KeyError as exc:
        raise UnsupportedModel(f"the weights lack {exc.args[0]!r}") from exc


def _build(config: EncoderConfig, w: dict[str, np.ndarray[Any, Any]], helper: Any, tensor_proto: Any) -> ModelProto:
    g = _Graph()
    hidden, heads = config.hidden, config.heads
    f32 = np.float32
    i64 = np.int64

    def layer_norm(x: str, prefix: str) -> str:
        scale = g.const(f"{prefix}.weight", w[f"{prefix}.weight"])
        bias = g.const(f"{prefix}.bias", w[f"{prefix}.bias"])
        return str(g.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=config.eps))

    def dense(x: str, prefix: str) -> str:
        # torch keeps a Linear's weight as (out, in); MatMul wants (in, out)
        weight = g.const(f"{prefix}.weight", np.ascontiguousarray(w[f"{prefix}.weight"].T))
        bias = g.const(f"{prefix}.bias", w[f"{prefix}.bias"])
        return str(g.op("Add", [g.op("MatMul", [x, weight]), bias]))

    # embeddings: word + (position + token type 0), then LayerNorm
    words = g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    positions_table = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    positions = g.const("embeddings.position_and_type", positions_table.astype(f32))
    zero = g.const("zero", np.array([0], dtype=i64))
    one = g.const("one", np.array([1], dtype=i64))
    sequence = g.op("Slice", [g.op("Shape", ["input_ids"]), one, g.const("two", np.array([2], dtype=i64))])
    x = g.op("Add", [g.op("Gather", [words, "input_ids"]), g.op("Slice", [positions, zero, sequence, zero])])
    x = layer_norm(x, "embeddings.LayerNorm")

    # attention: ONNX Runtime's MultiHeadAttention (scaled dot product over the heads, padded keys masked)
    mask = g.op("Cast", ["attention_mask"], to=tensor_proto.FLOAT)
    padding = g.op("Cast", ["attention_mask"], to=tensor_proto.INT32)

    for layer in range(config.layers):
        p = f"encoder.layer.{layer}"
        q = dense(x, f"{p}.attention.self.query")
        k = dense(x, f"{p}.attention.self.key")
        v = dense(x, f"{p}.attention.self.value")
        context = g.op("MultiHeadAttention", [q, k, v, "", padding], domain="com.microsoft", num_heads=heads)
        attended = dense(context, f"{p}.attention.output.dense")
        x = layer_norm(g.op("Add", [attended, x]), f"{p}.attention.output.LayerNorm")
        inner = dense(x, f"{p}.intermediate.dense")
        # exact GELU: 0.5 · x · (1 + erf(x / √2))
        gelu = g.op(
            "Mul",
            [
                g.op("Mul", [inner, g.const(f"{p}.half", np.array(0.5, dtype=f32))]),
                g.op(
                    "Add",
                    [
                        g.op("Erf", [g.op("Div", [inner, g.const(f"{p}.sqrt2", np.array(np.sqrt(2.0), dtype=f32))])]),
                        g.const(f"{p}.one", np.array(1.0, dtype=f32)),
                    ],
                ),
            ],
        )
        out = dense(gelu, f"{p}.output.dense")
        x = layer_norm(g.op("Add", [out, x]), f"{p}.output.LayerNorm")

    if config.pooling == "cls":
        pooled = g.op("Squeeze", [g.op("Slice", [x, zero, one, one]), one])
    else:  # the mean over attended positions; the count is at least 1e-9, as sentence-transformers clamps it
        weights = g.op("Unsqueeze", [mask, g.const("axis_2", np.array([2], dtype=i64))])
        total = g.op("ReduceSum", [g.op("Mul", [x, weights]), one], keepdims=0)
        count = g.op(
            "Clip", [g.op("ReduceSum", [weights, one], keepdims=0), g.const("min_count", np.array(1e-9, dtype=f32))]
        )
        pooled = g.op("Div", [total, count])
    if config.normalize:  # x / max(‖x‖, 1e-12), as torch.nn.functional.normalize
        norm = g.op("ReduceL2", [pooled], axes=[-1], keepdims=1)
        pooled = g.op("Div", [pooled, g.op("Clip", [norm, g.const("min_norm", np.array(1e-12, dtype=f32))])])
    g.nodes.append(helper.make_node("Identity", [pooled], ["sentence_embedding"], name="output"))

    graph = helper.make_graph(
        g.nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", tensor_proto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", tensor_proto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", tensor_proto.FLOAT, ["batch", hidden])],
        initializer=g.initializers,
    )
    model: ModelProto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="lakehouse",
    )
    model.ir_version = 8
    return model
