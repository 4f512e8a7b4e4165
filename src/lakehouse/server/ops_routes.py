"""Routes every app has: /health, /ready, /metrics, /openapi.json."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, JSONResponse, Response

from lakehouse.core import Lakehouse
from lakehouse.errors import ErrorItem, StoreUnavailable
from lakehouse.health import Health, Readiness
from lakehouse.server.auth import require_unless_public
from lakehouse.server.metrics import CONTENT_TYPE_LATEST
from lakehouse.version import __version__

router = APIRouter(tags=["operations"])


@router.get("/health", summary="The process is alive")
async def health(request: Request) -> Health:
    return Health(status="ok", version=__version__, services=request.app.state.services)


@router.get("/ready", summary="Every store is reachable", dependencies=[require_unless_public("public_ready")])
async def ready(request: Request) -> Readiness:
    lakehouse: Lakehouse = request.app.state.lakehouse
    checks = await lakehouse.readiness()
    failed = {name: check for name, check in checks.items() if not check.ok}
    if failed:
        raise StoreUnavailable(
            f"not ready: {', '.join(failed)} unreachable",
            errors=[
                ErrorItem(kind="store_unavailable", field=name, reason=str(check.error))
                for name, check in failed.items()
            ],
        )
    return Readiness(status="ready", checks=checks)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[require_unless_public("public_metrics")],
    responses={
        200: {"description": "The Prometheus text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False, dependencies=[require_unless_public("public_openapi")])
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, dependencies=[require_unless_public("public_openapi")])
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, behind the same gate (``server.public_openapi`` or a key)."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Lakehouse API")
