"""``praxis-gateway serve`` as a real subprocess: health over NATS end to end, and clear refusals."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from praxis_contracts.common import HealthQuery, HealthReply, health_subject
from praxis_gateway.db import MIGRATIONS
from praxis_servicekit.migrations import head_revision
from praxis_testkit.databases import create_database, drop_database
from praxis_testkit.servers import free_port
from praxis_testkit.services import ServiceStack
from praxis_testkit.waiting import wait_for

pytestmark = pytest.mark.e2e

SERVICES = ("discovery", "scheduler", "executor", "hardware-agent")


def gateway_env(nats_url: str, database_url: str, port: int) -> dict[str, str]:
    return {
        "PRAXIS_NATS_URL": nats_url,
        "PRAXIS_DATABASE_URL": database_url,
        "PRAXIS_GATEWAY_PORT": str(port),
        "PRAXIS_GATEWAY_HEALTH_TIMEOUT_S": "0.5",
        "PRAXIS_GATEWAY_AUTH": "off",
    }


async def answer_health(fakes: Any, service: str) -> None:
    reply = HealthReply(service=service, status="ok", version="0.1.0", uptime_s=1.0)
    await fakes.answer(HealthQuery, reply, subject=health_subject(service))


@pytest.fixture
def behind_dsn(pg_admin_dsn: str) -> Iterator[str]:
    name = f"praxis_gw_{secrets.token_hex(4)}"
    yield create_database(pg_admin_dsn, name)
    drop_database(pg_admin_dsn, name)


class TestServe:
    async def test_health_follows_the_services(
        self, service_stack: ServiceStack, nats_url: str, gateway_dsn: str, fakes: Any
    ) -> None:
        port = free_port()
        for service in SERVICES:
            await answer_health(fakes, service)
        proc = service_stack.start("praxis-gateway", ["serve"], gateway_env(nats_url, gateway_dsn, port))
        url = f"http://127.0.0.1:{port}/api/v1/health"

        async with httpx.AsyncClient(timeout=5) as http:

            async def health(expected: int) -> dict[str, Any] | None:
                assert proc.alive, proc.log_tail()
                response = await http.get(url)
                return response.json() if response.status_code == expected else None

            up = await wait_for(lambda: health(200), timeout=30, message="gateway healthy")
            await fakes.silence(health_subject("executor"))
            down = await wait_for(lambda: health(503), timeout=10, message="executor reported missing")
            await answer_health(fakes, "executor")
            again = await wait_for(lambda: health(200), timeout=10, message="healthy again")

        assert up["services"]["scheduler"]["status"] == "ok"
        assert up["gateway"]["schema_revision"] == head_revision(MIGRATIONS)
        assert down["unhealthy"] == ["executor"]
        assert again["unhealthy"] == []
        assert proc.stop() == 0  # SIGTERM: graceful shutdown, clean exit

    def test_refuses_a_schema_behind_head(self, service_stack: ServiceStack, nats_url: str, behind_dsn: str) -> None:
        proc = service_stack.start("praxis-gateway", ["serve"], gateway_env(nats_url, behind_dsn, free_port()))

        assert proc.wait(60) == 2
        assert "run `praxis-gateway migrate` first" in proc.log_text()
        assert "Traceback" not in proc.log_text()

    def test_refuses_a_taken_port(self, service_stack: ServiceStack, nats_url: str, gateway_dsn: str) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            proc = service_stack.start("praxis-gateway", ["serve"], gateway_env(nats_url, gateway_dsn, port))

            assert proc.wait(60) == 2
        assert f"port {port} on 127.0.0.1 is already in use" in proc.log_text()
        assert "Traceback" not in proc.log_text()

    def test_migrate_then_serve_an_empty_database(
        self, service_stack: ServiceStack, nats_url: str, behind_dsn: str
    ) -> None:
        migrate = service_stack.start(
            "praxis-gateway", ["migrate"], {"PRAXIS_DATABASE_URL": behind_dsn}, log_name="migrate"
        )

        assert migrate.wait(60) == 0, migrate.log_text()
        assert "schema 'gateway' at head" in migrate.log_text()
