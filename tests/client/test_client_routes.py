"""Every route string the client uses exists in the server's OpenAPI document."""

from __future__ import annotations

import re

from lakehouse.client import ROUTES
from tests.asgi import AppClient


def test_client_routes_exist_on_the_server(client: AppClient) -> None:
    spec = client.get("/openapi.json").json()
    server = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    server |= {("GET", "/metrics")}
    missing = {(m, p) for m, p in ROUTES if (m, p) not in server}
    assert not missing, f"client uses routes the server does not have: {missing}"


def test_client_modules_declare_every_path_they_call() -> None:
    """A path literal in a client module must be covered by that module's ROUTES."""
    import inspect

    import lakehouse.client.blobs as blobs
    import lakehouse.client.datasets as datasets
    import lakehouse.client.keys as keys
    import lakehouse.client.sql as sql

    for module in (blobs, keys, datasets, sql):
        source = inspect.getsource(module)
        declared = {p for _, p in module.ROUTES}
        literals = re.findall(r'f?"(/v1/[^"]*)"', source)
        assert literals, f"found no paths in {module.__name__}"
        for literal in literals:
            template = re.sub(r"{quote\((\w+)[^}]*}", r"{\1}", literal)
            assert template in declared, f"{module.__name__} calls {literal} without declaring it"
