"""The discovery service's handler tables."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from praxis_contracts.base import Query, Reply
from praxis_contracts.discovery import GetProtocol, GetProtocolSource, ListProtocols, RegisterProtocol
from praxis_discovery.handlers.protocols import get_protocol, get_protocol_source, list_protocols, register_protocol

COMMAND_HANDLERS: dict[type, object] = {}
EVENT_HANDLERS: dict[type, list[object]] = {}
QUERY_HANDLERS: dict[type[Query], Callable[..., Awaitable[Reply]]] = {
    RegisterProtocol: register_protocol,
    GetProtocol: get_protocol,
    ListProtocols: list_protocols,
    GetProtocolSource: get_protocol_source,
}
