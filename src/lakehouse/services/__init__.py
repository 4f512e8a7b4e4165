"""The daemons: each a thin router over the libraries, and the routing table that serves them.

``SERVICES`` is the routing table: adding a daemon is one entry (its name, router, the path prefixes it owns
and the ``[stack]`` setting holding its port). ``lakehouse serve`` mounts all of them on one port; ``--only``
mounts some; the gateway of ``lakehouse up`` forwards each prefix to the daemon that owns it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter

from lakehouse.services import catalogd, embedd, gateway, ingestd, pathwayd, queryd, storaged, validatord, vectord


@dataclass(frozen=True)
class Service:
    name: str
    router: APIRouter
    prefixes: tuple[str, ...]
    port_setting: str | None  # key in [stack]; None for the gateway, which uses server.port
    summary: str
    patterns: tuple[str, ...] = ()  # regexes for paths inside another service's prefix; they win

    def owns(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        Service("gateway", gateway.router, ("/v1/keys",), None, "API keys, auth, health, metrics"),
        Service("storaged", storaged.router, ("/v1/blobs",), "storaged", "blobs under bucket/key"),
        Service("catalogd", catalogd.router, ("/v1/datasets",), "catalogd", "datasets in the table lake"),
        Service(
            "ingestd", ingestd.router, (), "ingestd", "ingest into datasets", patterns=(r"^/v1/datasets/[^/]+/ingest$",)
        ),
        Service("queryd", queryd.router, ("/v1/sql", "/v1/queries"), "queryd", "read-only SQL over the lake"),
        Service("embedd", embedd.router, ("/v1/embed",), "embedd", "embeddings of texts"),
        Service("vectord", vectord.router, ("/v1/collections",), "vectord", "vector collections and search"),
        Service(
            "pathwayd",
            pathwayd.router,
            ("/v1/memories", "/v1/pathways", "/v1/playbooks"),
            "pathwayd",
            "agent memories, their history, pathways and playbooks",
        ),
        Service(
            "validatord",
            validatord.router,
            ("/v1/schemas", "/v1/validate"),
            "validatord",
            "the schema registry and validation of payloads",
        ),
    )
}


def owner_of(path: str) -> Service | None:
    """The service that owns ``path`` (the gateway's forwarding rule)."""
    for service in SERVICES.values():
        if any(re.fullmatch(p, path) for p in service.patterns):
            return service
    for service in SERVICES.values():
        if service.owns(path):
            return service
    return None


__all__ = ["SERVICES", "Service", "owner_of"]
