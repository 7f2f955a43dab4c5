"""The app around the routes: OpenAPI, console, metrics by route template, CORS, JSON errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from praxis_contracts.scheduler import GetQueue, QueueReply

pytestmark = pytest.mark.integration


class TestApp:
    async def test_serves_openapi_docs(self, client: httpx.AsyncClient) -> None:
        docs = await client.get("/docs")
        spec = (await client.get("/openapi.json")).json()

        assert docs.status_code == 200
        assert "/api/v1/runs/{run_id}/cancel" in spec["paths"]
        assert spec["paths"]["/api/v1/runs"]["post"]["summary"] == "Submit a run (queued for the scheduler)."

    async def test_serves_the_console(self, client: httpx.AsyncClient) -> None:
        index = await client.get("/")
        script = await client.get("/app.js")
        style = await client.get("/style.css")

        assert index.status_code == 200
        assert "text/html" in index.headers["content-type"]
        assert "Praxis" in index.text
        assert script.status_code == 200
        assert 'const API = "/api/v1"' in script.text
        assert style.status_code == 200

    async def test_unknown_api_path_is_a_json_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/nothing-here")

        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}

    async def test_counts_requests_by_route_template(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(GetQueue, QueueReply(entries=[]))
        await client.get("/api/v1/queue")

        metrics = (await client.get("/metrics")).text

        assert 'praxis_gateway_requests_total{method="GET",route="/api/v1/queue",status="200"}' in metrics
        assert 'praxis_gateway_request_seconds_bucket{le="0.001",method="GET",route="/api/v1/queue"}' in metrics

    async def test_labels_use_the_template_not_the_id(self, client: httpx.AsyncClient, unique_id: str) -> None:
        await client.post(f"/api/v1/runs/{unique_id}/pause")

        metrics = (await client.get("/metrics")).text

        assert 'route="/api/v1/runs/{run_id}/pause"' in metrics
        assert unique_id not in metrics

    async def test_cors_allows_configured_origins(self, make_client: Any) -> None:
        client = await make_client(cors_origins="http://lab.example, http://localhost:5173")
        preflight = {"Origin": "http://lab.example", "Access-Control-Request-Method": "POST"}

        allowed = await client.options("/api/v1/runs", headers=preflight)
        refused = await client.options("/api/v1/runs", headers={**preflight, "Origin": "http://evil.example"})

        assert allowed.headers["access-control-allow-origin"] == "http://lab.example"
        assert "access-control-allow-origin" not in refused.headers

    async def test_no_cors_headers_by_default(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/health", headers={"Origin": "http://lab.example"})

        assert "access-control-allow-origin" not in response.headers

    async def test_a_chunked_body_over_the_limit_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> Any:
            for _ in range(20):
                yield b"#" * (128 * 1024)

        response = await client.post("/api/v1/runs", content=chunks(), headers={"content-type": "application/json"})

        assert response.status_code == 413
        assert "larger than" in response.json()["detail"]
