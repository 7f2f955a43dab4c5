"""Prometheus metrics every service exposes, and a tiny asyncio HTTP server for ``/metrics`` and ``/healthz``.

The server is a few lines over ``asyncio.start_server`` rather than a web framework: services other than the
gateway have no HTTP face, and this one must not drag one in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES = Counter("praxis_messages_total", "Messages handled by consumers", ["service", "subject", "outcome"])
HANDLER_SECONDS = Histogram(
    "praxis_handler_seconds",
    "Time spent in a message handler",
    ["service", "subject"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUERIES = Counter("praxis_queries_total", "Queries answered", ["service", "subject", "outcome"])
OUTBOX_PUBLISHED = Counter("praxis_outbox_published_total", "Outbox rows published", ["service"])
OUTBOX_DEAD_LETTERED = Counter(
    "praxis_outbox_dead_lettered_total", "Outbox rows that could never be published, sent to the DLQ", ["service"]
)
DEAD_LETTERS = Counter("praxis_dead_letters_total", "Messages sent to the DLQ", ["service", "subject"])
RUNS = Counter("praxis_runs_total", "Runs that reached a terminal status", ["status"])
MACHINE_CALLS = Counter(
    "praxis_machine_calls_total",
    "Machine calls performed by a bench agent",
    ["bench_id", "machine", "method", "outcome"],
)
MACHINE_CALL_SECONDS = Histogram(
    "praxis_machine_call_seconds",
    "Time a bench agent spent performing a machine call",
    ["bench_id", "machine", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120),
)
BENCH_LAST_HEARTBEAT = Gauge(
    "praxis_bench_last_heartbeat_seconds", "Unix time of the last heartbeat the scheduler saw", ["bench_id"]
)
UP = Gauge("praxis_service_up", "1 while the service runs", ["service", "version"])


async def serve_http(host: str, port: int, health: Callable[[], bool]) -> tuple[asyncio.Server, int]:
    """Serve ``GET /metrics`` and ``GET /healthz``; returns the server and its bound port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            path = request.split(b" ")[1] if request.count(b" ") >= 2 else b"/"
            if path.startswith(b"/metrics"):
                status, ctype, body = b"200 OK", CONTENT_TYPE_LATEST.encode(), generate_latest()
            elif path.startswith(b"/healthz"):
                ok = health()
                status = b"200 OK" if ok else b"503 Service Unavailable"
                ctype, body = b"text/plain", b"ok\n" if ok else b"unhealthy\n"
            else:
                status, ctype, body = b"404 Not Found", b"text/plain", b"not found\n"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: "
                + ctype
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, None if port < 0 else port)
    bound = server.sockets[0].getsockname()[1]
    return server, int(bound)
