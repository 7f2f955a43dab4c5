"""The work behind ``praxis-gateway`` subcommands: preflight checks, serving, migrations, API keys."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_gateway.auth import Role, create_api_key, list_api_keys, revoke_api_key
from praxis_gateway.config import Settings
from praxis_gateway.db import MIGRATIONS
from praxis_gateway.db.tables import SCHEMA
from praxis_gateway.runtime import GatewayStartupError
from praxis_servicekit.bus import refused


def fail(message: str, code: int = 2) -> int:
    print(f"praxis-gateway: {message}", file=sys.stderr)
    return code


@contextlib.asynccontextmanager
async def migrated_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on a gateway schema at head, else :class:`GatewayStartupError` saying what to run."""
    from praxis_servicekit.db import make_engine
    from praxis_servicekit.migrations import SchemaBehind, check_at_head

    if not settings.database_url:
        raise GatewayStartupError("set PRAXIS_DATABASE_URL")
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        try:
            await check_at_head(engine, MIGRATIONS, SCHEMA, "gateway")
        except SchemaBehind as exc:
            raise GatewayStartupError(str(exc)) from exc
        except OSError as exc:
            raise GatewayStartupError(f"cannot reach Postgres at {settings.database_url}: {exc}") from exc
        yield engine
    finally:
        await engine.dispose()


async def preflight(settings: Settings) -> None:
    """Refuse to serve on a schema behind head, without the database API keys need, or without NATS."""
    import nats

    if settings.auth == "api-key" and not settings.database_url:
        raise GatewayStartupError("PRAXIS_GATEWAY_AUTH=api-key needs PRAXIS_DATABASE_URL (API keys live in Postgres)")
    if settings.database_url:
        async with migrated_engine(settings):
            pass
    options: dict[str, str] = {}
    if settings.nats_creds is not None:
        from praxis_natsauth import InvalidCredentials, read_creds

        try:  # nats-py would retry for ever on a file without a JWT: check it first
            read_creds(settings.nats_creds)
        except InvalidCredentials as exc:
            raise GatewayStartupError(str(exc)) from exc
        options["user_credentials"] = str(settings.nats_creds)
    try:
        nc = await nats.connect(
            settings.nats_url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0, **options
        )
    except Exception as exc:
        if refused(exc):
            raise GatewayStartupError(
                f"NATS refused the credentials of gateway ({settings.nats_creds or 'none given'}): {exc}"
            ) from exc
        raise GatewayStartupError(f"cannot reach NATS at {settings.nats_url}: {exc}") from exc
    await nc.close()


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a taken port is a clear message rather than a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> int:
    from praxis_gateway.app import create_app
    from praxis_gateway.server import Config, Server

    try:
        asyncio.run(preflight(settings))
    except GatewayStartupError as exc:
        return fail(str(exc))
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        return fail(
            f"port {settings.port} on {settings.host} is already in use ({exc.strerror}); "
            "stop the other process or set PRAXIS_GATEWAY_PORT"
        )
    config = Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
        ws_ping_interval=20,
    )
    print(f"praxis-gateway: console http://{settings.host}:{settings.port}/  API docs /docs", file=sys.stderr)
    try:
        Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return 0


def migrate(settings: Settings) -> int:
    from praxis_servicekit.migrations import upgrade_to_head

    if not settings.database_url:
        return fail("set PRAXIS_DATABASE_URL")
    try:
        upgrade_to_head(MIGRATIONS, settings.database_url, SCHEMA)
    except Exception as exc:
        return fail(f"migration failed: {exc}", 1)
    print(f"praxis-gateway: schema '{SCHEMA}' at head")
    return 0


async def _create_key(settings: Settings, name: str, role: Role) -> tuple[str, str]:
    async with migrated_engine(settings) as engine:
        return await create_api_key(engine, name, role)


def create_key(settings: Settings, name: str, role: Role) -> int:
    try:
        key_id, key = asyncio.run(_create_key(settings, name, role))
    except GatewayStartupError as exc:
        return fail(str(exc))
    print(key)
    print(f"praxis-gateway: API key {key_id} for '{name}' ({role}); it is shown only this once", file=sys.stderr)
    return 0


async def _list_keys(settings: Settings) -> list[str]:
    async with migrated_engine(settings) as engine:
        return [
            f"{k.id}\t{k.name}\t{k.role}\t{k.created_at:%Y-%m-%d %H:%M}\t"
            f"{'revoked ' + format(k.revoked_at, '%Y-%m-%d %H:%M') if k.revoked_at else 'active'}"
            for k in await list_api_keys(engine)
        ]


def list_keys(settings: Settings) -> int:
    try:
        lines = asyncio.run(_list_keys(settings))
    except GatewayStartupError as exc:
        return fail(str(exc))
    print("\n".join(["id\tname\trole\tcreated\tstate", *lines]))
    return 0


async def _revoke_key(settings: Settings, key_id: str) -> bool:
    async with migrated_engine(settings) as engine:
        return await revoke_api_key(engine, key_id)


def revoke_key(settings: Settings, key_id: str) -> int:
    try:
        revoked = asyncio.run(_revoke_key(settings, key_id))
    except GatewayStartupError as exc:
        return fail(str(exc))
    if not revoked:
        return fail(f"no active API key with id {key_id}", 1)
    print(f"praxis-gateway: API key {key_id} revoked")
    return 0
