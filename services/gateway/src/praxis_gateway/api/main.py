"""The ``/api/v1`` router: health is open; every other HTTP route needs a user (``PRAXIS_GATEWAY_AUTH``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from praxis_gateway.api.deps import current_user
from praxis_gateway.api.routes import benches, catalog, health, protocols, queue, reservations, run_events, runs

API_PREFIX = "/api/v1"


def docstring_summaries(router: APIRouter) -> APIRouter:
    """A route's one-line docstring becomes its OpenAPI summary (FastAPI would use the function name)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.summary is None and route.description:
            route.summary, _, rest = route.description.strip().partition("\n")
            route.description = rest.strip()
    return router


for module in (health, run_events, protocols, runs, benches, queue, reservations, catalog):
    docstring_summaries(module.router)

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(run_events.router)  # authenticates on its own: browsers send no headers on WebSockets

_protected = APIRouter(dependencies=[Depends(current_user)])
for module in (protocols, runs, benches, queue, reservations, catalog):
    _protected.include_router(module.router)
api_router.include_router(_protected)
