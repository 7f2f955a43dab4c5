"""``GET /api/v1/health`` asks every service over NATS; 503 names the ones that are not ok."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from praxis_contracts.common import HealthQuery, HealthReply, health_subject

pytestmark = pytest.mark.integration

SERVICES = ("discovery", "scheduler", "executor", "hardware-agent")


def healthy(service: str, status: str = "ok") -> HealthReply:
    return HealthReply(service=service, status=status, version="0.1.0", schema_revision="0001", uptime_s=12.5)


async def answer_health(fakes: Any, services: tuple[str, ...] = SERVICES) -> None:
    for service in services:
        await fakes.answer(HealthQuery, healthy(service), subject=health_subject(service))


class TestHealth:
    async def test_is_ok_when_every_service_answers_ok(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await answer_health(fakes)

        response = await client.get("/api/v1/health")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert body["unhealthy"] == []
        assert set(body["services"]) == set(SERVICES)
        assert body["services"]["scheduler"] == {
            "status": "ok",
            "version": "0.1.0",
            "schema_revision": "0001",
            "uptime_s": 12.5,
            "instance": "",
            "detail": None,
        }
        assert body["gateway"]["nats"] == "connected"
        assert body["gateway"]["auth"] == "off"

    async def test_names_the_silent_service_with_503(self, make_client: Any, fakes: Any) -> None:
        client = await make_client(health_timeout_s=0.3)
        await answer_health(fakes, tuple(s for s in SERVICES if s != "executor"))

        response = await client.get("/api/v1/health")

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["unhealthy"] == ["executor"]
        assert body["services"]["executor"]["status"] == "unavailable"
        assert "executor" in body["services"]["executor"]["detail"]
        assert body["services"]["discovery"]["status"] == "ok"

    async def test_a_degraded_service_is_not_healthy(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await answer_health(fakes)
        await fakes.answer(HealthQuery, healthy("scheduler", "degraded"), subject=health_subject("scheduler"))

        response = await client.get("/api/v1/health")

        assert response.status_code == 503
        assert response.json()["unhealthy"] == ["scheduler"]

    async def test_asks_the_services_concurrently(self, client: httpx.AsyncClient, fakes: Any) -> None:
        everyone_asked = asyncio.Event()
        asked: set[str] = set()

        def barrier(service: str) -> Any:
            async def answer(_: HealthQuery) -> HealthReply:  # replies only once all four were asked
                asked.add(service)
                if asked == set(SERVICES):
                    everyone_asked.set()
                await everyone_asked.wait()
                return healthy(service)

            return answer

        for service in SERVICES:
            await fakes.answer(HealthQuery, barrier(service), subject=health_subject(service))

        response = await client.get("/api/v1/health")

        assert response.status_code == 200, response.text
