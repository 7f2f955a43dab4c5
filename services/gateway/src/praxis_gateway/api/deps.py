"""Dependencies of the routes: the runtime, the bus, and who is asking (``CurrentUser`` / ``OperatorUser`` /
``AdminUser``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Security, WebSocketException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from praxis_gateway.auth import LOCAL_USER, Role, User, roles_from, user_for_key
from praxis_gateway.bus import Bus
from praxis_gateway.runtime import Runtime

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="an API key from `praxis-gateway create-api-key` (only when PRAXIS_GATEWAY_AUTH=api-key)",
)
bearer = HTTPBearer(auto_error=False, description="the same API key as a bearer token")


def get_runtime(conn: HTTPConnection) -> Runtime:
    runtime: Runtime = conn.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_bus(runtime: RuntimeDep) -> Bus:
    return runtime.bus


BusDep = Annotated[Bus, Depends(get_bus)]


async def _user_for(runtime: Runtime, key: str | None) -> User | None:
    if runtime.settings.auth == "off":
        return LOCAL_USER
    if not key or runtime.engine is None:
        return None
    return await user_for_key(runtime.engine, key)


async def current_user(
    runtime: RuntimeDep,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> User:
    key = api_key or (credentials.credentials if credentials else None)
    user = await _user_for(runtime, key)
    if user is None:
        detail = "invalid or revoked API key" if key else "an API key is required (X-API-Key or Authorization: Bearer)"
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def requires(minimum: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets ``minimum`` and the roles above it through, and answers 403 naming them otherwise."""
    allowed = " or ".join(roles_from(minimum))

    async def user_with_role(user: CurrentUser) -> User:
        if not user.has(minimum):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"'{user.name}' has the {user.role} role; this needs the {allowed} role"
            )
        return user

    return user_with_role


OperatorUser = Annotated[User, Depends(requires("operator"))]
AdminUser = Annotated[User, Depends(requires("admin"))]


async def websocket_user(websocket: WebSocket, runtime: RuntimeDep) -> User:
    """Browsers cannot set headers on a WebSocket, so the key may also come as ``?api_key=``."""
    headers = websocket.headers
    bearer_token = headers.get("authorization", "").removeprefix("Bearer ").strip() or None
    key = headers.get("x-api-key") or bearer_token or websocket.query_params.get("api_key")
    user = await _user_for(runtime, key)
    if user is None:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, "an API key is required")
    return user


WebSocketUser = Annotated[User, Depends(websocket_user)]
