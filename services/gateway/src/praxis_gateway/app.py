"""``create_app(settings)``: the gateway's FastAPI application (routes, errors, CORS, metrics, console).

Nothing connects at import time; the lifespan opens NATS (and Postgres when configured) and closes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from prometheus_client import make_asgi_app
from starlette.types import ASGIApp, Receive, Scope, Send

from praxis_gateway import __version__, errors, vocabulary
from praxis_gateway.api.main import API_PREFIX, api_router
from praxis_gateway.api.routes.protocols import MAX_BODY_BYTES
from praxis_gateway.config import Settings
from praxis_gateway.limits import BodyLimitMiddleware
from praxis_gateway.metrics import MetricsMiddleware
from praxis_gateway.runtime import open_runtime

CONSOLE_DIR = Path(__file__).parent / "console"


class _Endpoint:
    """Wraps an ASGI callable so Starlette routes to it as an app rather than a request handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Praxis",
        version=__version__,
        summary="Lab automation: protocols, runs, benches, reservations.",
        lifespan=lifespan,
        docs_url="/docs",
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(MetricsMiddleware, api_prefix=API_PREFIX)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            allow_credentials="*" not in settings.cors_origin_list,
        )
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(vocabulary.router)  # before the console mount at "/", which would answer it with a 404
    app.add_route("/metrics", cast(Any, _Endpoint(make_asgi_app())), include_in_schema=False)
    app.mount("/", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return app
