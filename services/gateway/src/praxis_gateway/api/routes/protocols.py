"""Protocols: upload a file (discovery analyses it statically), list them, read one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from praxis_contracts.discovery import (
    GetProtocol,
    ListProtocols,
    ProtocolList,
    ProtocolReply,
    ProtocolsRegistered,
    RegisterProtocol,
)
from praxis_contracts.protocols import ProtocolDefinition
from praxis_gateway.api.deps import BusDep, RuntimeDep
from praxis_gateway.api.schemas import ProtocolsOut, ProtocolUpload
from praxis_gateway.errors import ApiError

router = APIRouter(prefix="/protocols", tags=["protocols"])

MAX_PROTOCOL_BYTES = 1024 * 1024
MAX_BODY_BYTES = MAX_PROTOCOL_BYTES + 64 * 1024  # the file plus multipart framing


def decode_source(data: bytes) -> str:
    if len(data) > MAX_PROTOCOL_BYTES:
        raise ApiError(413, f"a protocol file may hold at most {MAX_PROTOCOL_BYTES} bytes")
    if not data.strip():
        raise ApiError(422, "the file is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(422, f"the file is not UTF-8 text (invalid byte at offset {exc.start})") from exc


@router.post(
    "",
    status_code=201,
    response_model=ProtocolUpload,
    responses={413: {"description": "file larger than 1 MiB"}, 422: {"description": "rejected, with diagnostics"}},
)
async def create_protocol(
    runtime: RuntimeDep, file: Annotated[UploadFile, File(description="a Python file with @protocol functions")]
) -> dict[str, Any]:
    """Register a protocol file."""
    source = decode_source(await file.read(MAX_PROTOCOL_BYTES + 1))
    query = RegisterProtocol(filename=file.filename or "protocol.py", source=source)
    reply = await runtime.bus.ask(query, ProtocolsRegistered, timeout=runtime.settings.register_timeout_s)
    if not reply.protocols:
        raise ApiError(
            422,
            "the file holds no @protocol function",
            diagnostics=[d.model_dump(mode="json") for d in reply.diagnostics],
        )
    first = reply.protocols[0]
    return {**first.model_dump(), "protocols": reply.protocols, "diagnostics": reply.diagnostics}


@router.get("", response_model=ProtocolsOut)
async def read_protocols(bus: BusDep, name: str | None = None, limit: int = 200) -> ProtocolList:
    """List registered protocols."""
    return await bus.ask(ListProtocols(name=name, limit=limit), ProtocolList)


@router.get("/{protocol_id}", response_model=ProtocolDefinition)
async def read_protocol(bus: BusDep, protocol_id: str) -> ProtocolDefinition:
    """Read one protocol definition."""
    reply = await bus.ask(GetProtocol(protocol_id=protocol_id), ProtocolReply)
    return reply.definition
