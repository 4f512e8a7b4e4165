"""``create_app(settings, services=...)``: one FastAPI app with the chosen services on it.

Above the ``server`` toolkit (auth, middleware, problems, idempotency) and the ``services`` (the routes), which
it puts together; nothing below imports it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.types import Scope

from lakehouse.config import Settings
from lakehouse.core import Lakehouse
from lakehouse.embed import describe
from lakehouse.errors import ConfigError
from lakehouse.server.forward import Forwarder, GatewayOnly, Upstreams
from lakehouse.server.json_body import JsonBodyMiddleware, require_json_content_type
from lakehouse.server.metrics import Metrics
from lakehouse.server.middleware import RequestContextMiddleware
from lakehouse.server.openapi import build_openapi
from lakehouse.server.ops_routes import router as ops_router
from lakehouse.server.problems import install_problem_handlers
from lakehouse.server.record import RecordMiddleware, RecordWriter
from lakehouse.server.self_observe import SelfObserveMiddleware, SelfObserver
from lakehouse.server.threads import set_worker_nice
from lakehouse.services import SERVICES, owner
from lakehouse.version import __version__


def _streams(scope: Scope) -> bool:
    """Whether the request's body is streamed to a store (a blob upload, an ingest) rather than parsed whole."""
    method, path = str(scope["method"]), str(scope["path"])
    if method == "POST" and path == "/v1/traces":  # OTLP: the route inflates gzip and then holds JSON to the rules
        return True
    return (method == "PUT" and path.startswith("/v1/blobs/")) or (method == "POST" and path.endswith("/ingest"))


def _body_limit(settings: Settings) -> Callable[[Scope], int]:
    def limit(scope: Scope) -> int:
        if scope["method"] == "PUT" and scope["path"].startswith("/v1/blobs/"):
            return settings.storage.max_blob_bytes
        if scope["method"] == "POST" and scope["path"].endswith("/ingest"):
            return settings.lake.max_ingest_bytes
        return settings.server.max_body_bytes

    return limit


def operation_id(route: APIRoute) -> str:
    """``<tag>_<function>`` (``memory_add``, ``sql_run_sql``): what a generated client names its methods."""
    return f"{route.tags[0]}_{route.name}" if route.tags else route.name


def _upstream(settings: Settings) -> Callable[[str], tuple[str, str] | None]:
    """The gateway's routing: the daemon of the stack that serves a path, and its loopback URL."""
    stack = settings.stack
    urls = {name: f"http://{stack.host}:{stack.port(name)}" for name in stack.services}

    def upstream(path: str) -> tuple[str, str] | None:
        name = owner(path)
        return (name, urls[name]) if name in urls else None

    return upstream


def _stack_secret(settings: Settings) -> str:
    if settings.stack.secret is None or not settings.stack.secret.get_secret_value():
        raise ConfigError(
            "a gateway or a daemon of a stack needs stack.secret (`lakehouse up` sets it; under systemd set "
            "LAKEHOUSE_STACK__SECRET in the environment file)",
            field="stack.secret",
        )
    return settings.stack.secret.get_secret_value()


def create_app(
    settings: Settings,
    services: Iterable[str] | None = None,
    *,
    lakehouse: Lakehouse | None = None,
    close_stores: bool = False,
    gateway: bool = False,
    behind_gateway: bool = False,
) -> FastAPI:
    """Build the app for ``services`` (all of them by default) over the stores ``settings`` name. The app closes the
    stores when it shuts down if it opened them, or if told to (``close_stores``: the process serves it for life).

    In a stack, ``gateway`` makes the front door: it answers its own routes and forwards those of the daemons in
    ``stack.services`` to their processes; ``behind_gateway`` makes a daemon that answers only the gateway."""
    if gateway:
        names = ["gateway", *settings.stack.services]  # the daemons' routes are there for the OpenAPI document
    else:
        names = list(services) if services is not None else list(SERVICES)
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise ConfigError(f"unknown service {', '.join(unknown)}; available: {', '.join(SERVICES)}", field="services")
    secret = _stack_secret(settings) if gateway or behind_gateway else None
    opened_here = lakehouse is None
    lh = lakehouse or Lakehouse(settings)

    observer = SelfObserver(lh.observe, "lakehouse") if settings.observe.self else None
    if observer is not None:
        lh.observe.closing.append(observer.close)  # an app whose lifespan never ran still stops its writer
    # recording: in one process, or at a stack's gateway (which sees every exchange), never again behind it
    recorder = (
        RecordWriter(
            lh.recordings,
            settings.record.flush_ms,
            blobs=lh.blobs if settings.record.max_blob_bytes else None,
            redactor=lh.observe.redactor,
        )
        if settings.record.enabled and not behind_gateway
        else None
    )
    if recorder is not None:
        lh.observe.closing.append(recorder.close)  # an app whose lifespan never ran still writes what it queued
    upstreams = (
        Upstreams(_upstream(settings), secret=secret, connect_timeout=settings.stack.forward_connect_timeout_s)
        if gateway and secret is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if "embedd" in names:  # which provider embeds, or which setting to choose
            logging.getLogger("lakehouse.embed").info(describe(settings))
        yield
        if upstreams is not None:
            await upstreams.aclose()
        if observer is not None:
            observer.close()
        if recorder is not None:
            recorder.close()
        if opened_here or close_stores:  # vector indexes saved, caches written, worker processes stopped
            lh.close()

    app = FastAPI(
        title="Lakehouse",
        version=__version__,
        summary="Data and memory substrate for AI agents.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(require_json_content_type)],
        generate_unique_id_function=operation_id,
    )
    app.state.lakehouse = lh
    app.state.settings = settings
    app.state.host_details = settings.host_details()  # never shown in an error body
    set_worker_nice(settings.server.worker_nice)
    app.state.services = names
    app.state.stack_gateway = gateway
    app.state.metrics = Metrics()
    install_problem_handlers(app)
    app.include_router(ops_router)
    for name in names:
        app.include_router(SERVICES[name].router)
    models = [model for name in names for model in SERVICES[name].models]
    app.openapi = lambda: build_openapi(app, models)  # type: ignore[method-assign]
    limit = _body_limit(settings)
    app.add_middleware(JsonBodyMiddleware, max_depth=settings.server.max_json_depth, streams=_streams)
    if observer is not None:
        app.state.self_observer = observer
        app.add_middleware(SelfObserveMiddleware, observer=observer)
    if upstreams is not None:
        routes = {name: SERVICES[name].router.routes for name in names}
        app.add_middleware(Forwarder, upstreams=upstreams, lakehouse=lh, routes=routes)
    if behind_gateway and secret is not None:
        app.add_middleware(GatewayOnly, secret=secret)
    if recorder is not None:
        app.add_middleware(RecordMiddleware, settings=settings.record, writer=recorder, redactor=lh.observe.redactor)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics, body_limit=limit)
    return app
