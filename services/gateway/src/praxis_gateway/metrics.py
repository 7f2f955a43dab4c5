"""HTTP metrics by route template (``/api/v1/runs/{run_id}``, never the concrete id: bounded label sets)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "praxis_gateway_requests_total", "HTTP requests answered by the gateway", ["method", "route", "status"]
)
LATENCY = Histogram(
    "praxis_gateway_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WEBSOCKETS = Gauge("praxis_gateway_websockets", "Open run-event WebSocket connections")
WS_FRAMES = Counter("praxis_gateway_ws_frames_total", "Run-event frames sent to WebSocket clients")


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): counts each HTTP request once, after routing has named its route."""

    def __init__(self, app: ASGIApp, api_prefix: str = "") -> None:
        self.app = app
        self.api_prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_of(scope, self.api_prefix)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_of(scope: Scope, api_prefix: str) -> str:
    raw: str = scope.get("path", "")
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        # FastAPI reports the route as declared in its own router, without the prefix it was included under.
        return (
            path
            if not api_prefix or path.startswith(api_prefix) or not raw.startswith(api_prefix)
            else api_prefix + path
        )
    if raw.startswith("/metrics"):
        return "/metrics"
    return "/api/(unmatched)" if raw.startswith("/api/") else "/(console)"
