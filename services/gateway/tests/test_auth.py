"""API-key auth (``PRAXIS_GATEWAY_AUTH=api-key``): 401 without a valid key; roles scientist < operator < admin,
403 below the role a route needs; keys created by ``praxis-gateway create-api-key`` live hashed in the gateway
schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_contracts.executor import RecoverRun
from praxis_contracts.runs import Parked, RunStatus
from praxis_contracts.scheduler import ForceReleaseReservation, GetQueue, QueueReply, ReservationInfo
from praxis_contracts.streams import EXECUTOR_CMD
from praxis_gateway import cli
from praxis_gateway.app import create_app
from praxis_gateway.auth import Role, create_api_key, hash_key, revoke_api_key, user_for_key
from praxis_gateway.runtime import GatewayStartupError
from praxis_servicekit.db import make_engine

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(gateway_dsn: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(gateway_dsn, pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
async def secured(make_client: Any, gateway_dsn: str) -> httpx.AsyncClient:
    client: httpx.AsyncClient = await make_client(auth="api-key", database_url=gateway_dsn)
    return client


@pytest.fixture
async def scheduler(fakes: Any) -> Any:
    await fakes.answer(GetQueue, QueueReply(entries=[]))
    await fakes.answer(
        ForceReleaseReservation,
        lambda q: ReservationInfo(
            id=q.reservation_id,
            asset_id="a",
            owner_kind="user",
            owner="x",
            starts_at="2030-01-01T00:00:00Z",
            ends_at="2030-01-01T01:00:00Z",
            created_at="2029-12-01T00:00:00Z",
            release_reason=q.reason,
        ),
    )
    return fakes


class TestApiKeys:
    async def test_without_a_key_is_401(self, secured: httpx.AsyncClient, scheduler: Any) -> None:
        response = await secured.get("/api/v1/queue")

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key is required" in response.json()["detail"]

    async def test_an_unknown_key_is_401(self, secured: httpx.AsyncClient, scheduler: Any) -> None:
        response = await secured.get("/api/v1/queue", headers={"X-API-Key": "praxis_not-a-real-key"})

        assert response.status_code == 401
        assert response.json()["detail"] == "invalid or revoked API key"

    async def test_a_scientist_reads_but_cannot_force_release(
        self, secured: httpx.AsyncClient, scheduler: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        _, key = await create_api_key(engine, f"ada-{unique_id}", "scientist")
        headers = {"X-API-Key": key}

        read = await secured.get("/api/v1/queue", headers=headers)
        release = await secured.delete("/api/v1/reservations/r1", params={"reason": "x"}, headers=headers)

        assert read.status_code == 200
        assert release.status_code == 403
        assert "admin" in release.json()["detail"]
        assert scheduler.queries(ForceReleaseReservation) == []

    async def test_an_admin_bearer_key_force_releases_in_its_name(
        self, secured: httpx.AsyncClient, scheduler: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        _, key = await create_api_key(engine, f"grace-{unique_id}", "admin")

        response = await secured.delete(
            "/api/v1/reservations/r1", params={"reason": "broken"}, headers={"Authorization": f"Bearer {key}"}
        )

        assert response.status_code == 200
        assert scheduler.queries(ForceReleaseReservation)[0].by == f"grace-{unique_id}"

    async def test_a_revoked_key_is_401(
        self, secured: httpx.AsyncClient, scheduler: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        key_id, key = await create_api_key(engine, f"old-{unique_id}", "admin")
        assert await revoke_api_key(engine, key_id)

        response = await secured.get("/api/v1/queue", headers={"X-API-Key": key})

        assert response.status_code == 401

    async def test_health_needs_no_key(self, secured: httpx.AsyncClient) -> None:
        response = await secured.get("/api/v1/health")

        assert response.status_code in (200, 503)

    async def test_keys_are_stored_hashed(self, engine: AsyncEngine, unique_id: str) -> None:
        import sqlalchemy as sa

        _, key = await create_api_key(engine, f"h-{unique_id}", "scientist")

        async with engine.connect() as conn:
            stored = await conn.scalar(
                sa.text("SELECT key_sha256 FROM gateway.api_keys WHERE name = :n"), {"n": f"h-{unique_id}"}
            )
        assert stored == hash_key(key) != key

    async def test_websocket_needs_a_key_too(
        self, live_gateway: Any, gateway_dsn: str, engine: AsyncEngine, fake_executor: Any, unique_id: str
    ) -> None:
        address = await live_gateway(auth="api-key", database_url=gateway_dsn)
        executor = await fake_executor()
        executor.store(executor.finished(1))
        executor.status = executor.finished(1).status
        _, key = await create_api_key(engine, f"ws-{unique_id}", "scientist")
        url = f"ws://{address}/api/v1/runs/{executor.run_id}/events"

        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        async with websockets.connect(f"{url}?api_key={key}") as ws:
            frame = await asyncio.wait_for(ws.recv(), 10)

        assert refused.value.response.status_code == 403
        assert '"RunFinished"' in str(frame)

    async def test_api_key_mode_without_a_database_refuses_to_start(self, nats_url: str) -> None:
        from praxis_gateway.config import Settings

        app = create_app(Settings(nats_url=nats_url, database_url=None, auth="api-key"))

        with pytest.raises(GatewayStartupError, match="PRAXIS_DATABASE_URL"):
            async with app.router.lifespan_context(app):
                pass


PARKED = Parked(step=3, kind="bench_unreachable", reason="bench-1 stopped answering", choices=["retry", "abort"])


class TestRecoverNeedsAnOperator:
    async def test_a_scientist_cannot_recover(
        self, secured: httpx.AsyncClient, fake_runs: Any, streams: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.NEEDS_OPERATOR, parked=PARKED)
        _, key = await create_api_key(engine, f"sci-{unique_id}", "scientist")
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await secured.post(
            f"/api/v1/runs/{unique_id}/recover", json={"choice": "retry"}, headers={"X-API-Key": key}
        )

        assert response.status_code == 403
        assert (
            response.json()["detail"]
            == f"'sci-{unique_id}' has the scientist role; this needs the operator or admin role"
        )
        assert await streams.since(EXECUTOR_CMD.name, mark) == []

    @pytest.mark.parametrize("role", ["operator", "admin"])
    async def test_an_operator_or_admin_recovers_in_their_name(
        self, secured: httpx.AsyncClient, fake_runs: Any, streams: Any, engine: AsyncEngine, unique_id: str, role: Role
    ) -> None:
        fake_runs.add(unique_id, RunStatus.NEEDS_OPERATOR, parked=PARKED)
        _, key = await create_api_key(engine, f"{role}-{unique_id}", role)
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await secured.post(
            f"/api/v1/runs/{unique_id}/recover", json={"choice": "retry"}, headers={"X-API-Key": key}
        )

        assert response.status_code == 202, response.text
        [(command, _)] = await streams.since(EXECUTOR_CMD.name, mark)
        assert isinstance(command, RecoverRun)
        assert (command.choice, command.requested_by) == ("retry", f"{role}-{unique_id}")

    async def test_without_a_key_is_401(self, secured: httpx.AsyncClient, fake_runs: Any, unique_id: str) -> None:
        response = await secured.post(f"/api/v1/runs/{unique_id}/recover", json={"choice": "retry"})

        assert response.status_code == 401

    async def test_an_operator_cannot_force_release(
        self, secured: httpx.AsyncClient, scheduler: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        _, key = await create_api_key(engine, f"op-{unique_id}", "operator")

        response = await secured.delete("/api/v1/reservations/r1", params={"reason": "x"}, headers={"X-API-Key": key})

        assert response.status_code == 403
        assert response.json()["detail"] == f"'op-{unique_id}' has the operator role; this needs the admin role"
        assert scheduler.queries(ForceReleaseReservation) == []

    async def test_control_commands_carry_the_key_owner(
        self, secured: httpx.AsyncClient, fake_runs: Any, streams: Any, engine: AsyncEngine, unique_id: str
    ) -> None:
        fake_runs.add(unique_id, RunStatus.RUNNING)
        _, key = await create_api_key(engine, f"ada-{unique_id}", "scientist")
        mark = await streams.last_seq(EXECUTOR_CMD.name)

        response = await secured.post(f"/api/v1/runs/{unique_id}/pause", headers={"X-API-Key": key})

        assert response.status_code == 202
        [(command, _)] = await streams.since(EXECUTOR_CMD.name, mark)
        assert command.requested_by == f"ada-{unique_id}"


class TestCreateApiKeyCommand:
    async def test_prints_a_working_key_once(
        self, gateway_dsn: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str], unique_id: str
    ) -> None:
        from praxis_gateway.config import Settings

        settings = Settings(database_url=gateway_dsn)
        code = await asyncio.to_thread(cli.create_key, settings, f"cli-{unique_id}", "admin")

        out, err = capsys.readouterr()
        key = out.strip()
        assert code == 0
        assert key.startswith("praxis_")
        assert "shown only this once" in err
        user = await user_for_key(engine, key)
        assert user is not None and (user.name, user.role) == (f"cli-{unique_id}", "admin")

    async def test_creates_an_operator_key(
        self, gateway_dsn: str, engine: AsyncEngine, capsys: pytest.CaptureFixture[str], unique_id: str
    ) -> None:
        from praxis_gateway.__main__ import parser
        from praxis_gateway.config import Settings

        args = parser().parse_args(["create-api-key", "--name", f"op-{unique_id}", "--role", "operator"])
        code = await asyncio.to_thread(cli.create_key, Settings(database_url=gateway_dsn), args.name, args.role)

        key = capsys.readouterr().out.strip()
        assert code == 0
        user = await user_for_key(engine, key)
        assert user is not None and (user.name, user.role) == (f"op-{unique_id}", "operator")

    def test_parses_its_arguments(self) -> None:
        from praxis_gateway.__main__ import parser

        args = parser().parse_args(["create-api-key", "--name", "ada", "--role", "admin"])

        assert (args.command, args.name, args.role) == ("create-api-key", "ada", "admin")

    def test_refuses_an_unknown_role(self, capsys: pytest.CaptureFixture[str]) -> None:
        from praxis_gateway.__main__ import parser

        with pytest.raises(SystemExit):
            parser().parse_args(["create-api-key", "--name", "ada", "--role", "superuser"])

        assert "operator" in capsys.readouterr().err
