"""``GET /health``: every service asked over NATS at once; 200 only when all of them answer ``ok``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from nats.errors import Error as NatsError

from praxis_contracts.common import HealthQuery, HealthReply, health_subject
from praxis_gateway import __version__
from praxis_gateway.api.deps import RuntimeDep
from praxis_gateway.api.schemas import GatewayHealth, HealthOut, ServiceHealth
from praxis_gateway.bus import Bus
from praxis_gateway.runtime import Runtime
from praxis_servicekit.queries import QueryFailed

router = APIRouter(tags=["health"])


async def probe(bus: Bus, service: str, timeout: float) -> ServiceHealth:
    try:
        reply = await bus.ask(HealthQuery(), HealthReply, timeout=timeout, subject=health_subject(service))
    except QueryFailed as exc:
        return ServiceHealth(status="unavailable", detail=exc.reply.detail)
    except NatsError as exc:  # our own connection is down: every service is out of reach
        return ServiceHealth(status="unavailable", detail=f"message bus: {type(exc).__name__}")
    return ServiceHealth(
        status=reply.status,
        version=reply.version,
        schema_revision=reply.schema_revision,
        uptime_s=reply.uptime_s,
        instance=reply.instance,
    )


def gateway_health(runtime: Runtime) -> GatewayHealth:
    connected = runtime.nc.is_connected
    return GatewayHealth(
        status="ok" if connected else "degraded",
        version=__version__,
        schema_revision=runtime.schema_revision,
        uptime_s=runtime.uptime_s,
        nats="connected" if connected else "disconnected",
        auth=runtime.settings.auth,
        websockets=runtime.hub.listener_count,
    )


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def read_health(runtime: RuntimeDep) -> JSONResponse:
    """Health of every Praxis service (503 names the ones that are not ok)."""
    names = runtime.settings.health_service_list
    timeout = runtime.settings.health_timeout_s
    results = await asyncio.gather(*(probe(runtime.bus, name, timeout) for name in names))
    services = dict(zip(names, results, strict=True))
    unhealthy = [name for name, health in services.items() if health.status != "ok"]
    out = HealthOut(
        status="unavailable" if unhealthy else "ok",
        services=services,
        unhealthy=unhealthy,
        gateway=gateway_health(runtime),
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=503 if unhealthy else 200)
