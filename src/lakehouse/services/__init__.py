"""The daemons: each a thin router over the libraries, and the routing table that serves them.

``SERVICES`` is the routing table: adding a daemon is one entry (its name, router, the path prefixes it owns,
the paths inside another's prefix it serves, and the bodies its routes read themselves for the OpenAPI document).
``lakehouse serve`` mounts all of them on one port; ``--only`` mounts some; in ``lakehouse up`` the gateway
forwards each request to the process of the service that ``owner`` names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter
from pydantic import BaseModel

from lakehouse.services import (
    catalogd,
    embedd,
    gateway,
    ingestd,
    observerd,
    pathwayd,
    queryd,
    storaged,
    validatord,
    vectord,
)
from lakehouse.vectors import UpsertPoints


@dataclass(frozen=True)
class Service:
    name: str
    router: APIRouter
    prefixes: tuple[str, ...]
    summary: str
    patterns: tuple[str, ...] = ()  # regexes for paths inside another service's prefix; they win
    models: tuple[type[BaseModel], ...] = ()  # bodies its routes read themselves, for the OpenAPI components

    def owns(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    def claims(self, path: str) -> bool:
        """Whether a path inside another service's prefix is this service's (its ``patterns``)."""
        return any(re.fullmatch(p, path) for p in self.patterns)


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("gateway", gateway.router, ("/v1/keys", "/v1/stack"), "API keys, auth, health, metrics, the stack"),
        Service("storaged", storaged.router, ("/v1/blobs",), "blobs under bucket/key"),
        Service("catalogd", catalogd.router, ("/v1/datasets",), "datasets in the table lake"),
        Service("ingestd", ingestd.router, (), "ingest into datasets", patterns=(r"^/v1/datasets/[^/]+/ingest$",)),
        Service("queryd", queryd.router, ("/v1/sql", "/v1/queries"), "read-only SQL over the lake"),
        Service("embedd", embedd.router, ("/v1/embed",), "embeddings of texts"),
        Service(
            "vectord",
            vectord.router,
            ("/v1/collections",),
            "vector collections and search",
            models=(UpsertPoints,),
        ),
        Service(
            "pathwayd",
            pathwayd.router,
            ("/v1/memories", "/v1/pathways", "/v1/playbooks"),
            "agent memories, their history, pathways and playbooks",
        ),
        Service(
            "validatord",
            validatord.router,
            ("/v1/schemas", "/v1/validate"),
            "the schema registry and validation of payloads",
        ),
        Service(
            "observerd",
            observerd.router,
            ("/v1/traces", "/v1/observe", "/v1/sessions"),
            "traces, spans and scores of agent runs (OTLP in, SQL out)",
        ),
    )
}


def owner(path: str) -> str | None:
    """The service whose routes answer ``path``: one whose patterns claim it, else the one whose prefix holds it
    (None: no service's; the app itself answers, /health or a 404)."""
    for service in SERVICES.values():
        if service.claims(path):
            return service.name
    for service in SERVICES.values():
        if service.owns(path):
            return service.name
    return None


__all__ = ["SERVICES", "Service", "owner"]
