"""``Client``: the HTTP client, one small module per area; errors are raised as lakehouse.errors classes."""

from __future__ import annotations

import httpx

from lakehouse.client._http import Transport
from lakehouse.client.blobs import ROUTES as _BLOB_ROUTES
from lakehouse.client.blobs import Blobs
from lakehouse.client.datasets import ROUTES as _DATASET_ROUTES
from lakehouse.client.datasets import Datasets
from lakehouse.client.embed import ROUTES as _EMBED_ROUTES
from lakehouse.client.embed import Embed
from lakehouse.client.keys import ROUTES as _KEY_ROUTES
from lakehouse.client.keys import Keys
from lakehouse.client.memory import PATHWAY_ROUTES as _PATHWAY_ROUTES
from lakehouse.client.memory import PLAYBOOK_ROUTES as _PLAYBOOK_ROUTES
from lakehouse.client.memory import ROUTES as _MEMORY_ROUTES
from lakehouse.client.memory import Memories, Pathways, Playbooks
from lakehouse.client.observe import ROUTES as _OBSERVE_ROUTES
from lakehouse.client.observe import Observe
from lakehouse.client.schemas import ROUTES as _SCHEMA_ROUTES
from lakehouse.client.schemas import Schemas, Validator
from lakehouse.client.sql import ROUTES as _SQL_ROUTES
from lakehouse.client.sql import Tables
from lakehouse.client.stack import ROUTES as _STACK_ROUTES
from lakehouse.client.stack import Stack
from lakehouse.client.vectors import ROUTES as _VECTOR_ROUTES
from lakehouse.client.vectors import Collections
from lakehouse.health import Health, Readiness

ROUTES = (
    {("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics")}
    | _BLOB_ROUTES
    | _KEY_ROUTES
    | _DATASET_ROUTES
    | _SQL_ROUTES
    | _EMBED_ROUTES
    | _VECTOR_ROUTES
    | _MEMORY_ROUTES
    | _PATHWAY_ROUTES
    | _PLAYBOOK_ROUTES
    | _SCHEMA_ROUTES
    | _OBSERVE_ROUTES
    | _STACK_ROUTES
)

__all__ = ["ROUTES", "Client"]


class Client:
    """A Lakehouse server over HTTP: ``Client("http://127.0.0.1:3100", api_key="lh_...")``."""

    def __init__(
        self, url: str, api_key: str | None = None, *, timeout: float = 30.0, http: httpx.Client | None = None
    ) -> None:
        self._transport = Transport(url, api_key, timeout=timeout, http=http)
        self.blobs = Blobs(self._transport)
        self.keys = Keys(self._transport)
        self.stack = Stack(self._transport)
        self.datasets = Datasets(self._transport)
        self._tables = Tables(self._transport)
        self.ingest = self._tables.ingest
        self.sql = self._tables.sql
        self.sql_arrow = self._tables.sql_arrow
        self.queries = self._tables.queries
        self.cancel_query = self._tables.cancel_query
        self._embed = Embed(self._transport)
        self.embed = self._embed.embed
        self.embed_models = self._embed.models
        self.collections = Collections(self._transport)
        self.memories = Memories(self._transport)
        self.pathways = Pathways(self._transport)
        self.playbooks = Playbooks(self._transport)
        self.schemas = Schemas(self._transport)
        self._validator = Validator(self._transport)
        self.validate = self._validator.validate
        self.validate_many = self._validator.validate_many
        self.observe = Observe(self._transport)

    def health(self) -> Health:
        return self._transport.call("GET", "/health", Health)

    def ready(self) -> Readiness:
        return self._transport.call("GET", "/ready", Readiness)

    def metrics(self) -> str:
        return self._transport.request("GET", "/metrics").text

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
