"""API keys: created once (the plain key is shown only then), stored as sha256, looked up per request.

Keys are long random tokens, so an unsalted sha256 is enough: there is nothing to brute-force, and a
stolen table does not reveal usable keys.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from praxis_gateway.db.tables import api_keys

Role = Literal["scientist", "operator", "admin"]
ROLES: tuple[Role, ...] = ("scientist", "operator", "admin")
"""Lowest to highest: each role may do everything the roles before it may. An *operator* tends the benches
(decides for parked runs); an *admin* also force-releases reservations."""
KEY_PREFIX = "praxis_"


def roles_from(minimum: Role) -> tuple[Role, ...]:
    """The roles at or above ``minimum``: who passes a route that needs ``minimum``."""
    return ROLES[ROLES.index(minimum) :]


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def has(self, minimum: Role) -> bool:
        """At least ``minimum`` in the order scientist < operator < admin."""
        return self.role in roles_from(minimum)


LOCAL_USER = User(name="local", role="admin")


@dataclass(frozen=True)
class ApiKeyRecord:
    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(engine: AsyncEngine, name: str, role: Role) -> tuple[str, str]:
    """Store a new key; returns ``(id, plain key)``. The plain key is not recoverable afterwards."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = uuid.uuid4().hex[:12]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(api_keys).values(id=key_id, name=name, role=role, key_sha256=hash_key(key)))
    return key_id, key


async def user_for_key(engine: AsyncEngine, key: str) -> User | None:
    """The user a live (not revoked) key belongs to, else None."""
    query = sa.select(api_keys.c.name, api_keys.c.role).where(
        api_keys.c.key_sha256 == hash_key(key), api_keys.c.revoked_at.is_(None)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None or row.role not in ROLES:
        return None
    return User(name=row.name, role=row.role)


async def list_api_keys(engine: AsyncEngine) -> list[ApiKeyRecord]:
    query = sa.select(
        api_keys.c.id, api_keys.c.name, api_keys.c.role, api_keys.c.created_at, api_keys.c.revoked_at
    ).order_by(api_keys.c.created_at)
    async with engine.connect() as conn:
        return [ApiKeyRecord(*row) for row in (await conn.execute(query)).all()]


async def revoke_api_key(engine: AsyncEngine, key_id: str) -> bool:
    """Revoke a key by id; False when no live key has that id."""
    stmt = (
        sa.update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    async with engine.begin() as conn:
        result = await conn.execute(stmt)
    return bool(result.rowcount)
