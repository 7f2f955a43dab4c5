"""Registering and looking up protocols. A file is stored by content hash, so registering the same file twice
is harmless and yields the same ids."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from praxis_contracts.base import ErrorReply, Reply
from praxis_contracts.discovery import (
    GetProtocol,
    GetProtocolSource,
    ListProtocols,
    ProtocolList,
    ProtocolRegistered,
    ProtocolReply,
    ProtocolSource,
    ProtocolsRegistered,
    RegisterProtocol,
)
from praxis_contracts.protocols import ProtocolDefinition
from praxis_discovery.db.tables import protocol_sources, protocols
from praxis_discovery.handlers.ports import Analyzer
from praxis_servicekit.db import SqlUnitOfWork


async def register_protocol(q: RegisterProtocol, uow: SqlUnitOfWork, analyzer: Analyzer, max_source_bytes: int) -> Reply:
    if len(q.source.encode()) > max_source_bytes:
        return ErrorReply(code="invalid", detail=f"file is larger than {max_source_bytes} bytes")
    definitions, diagnostics = analyzer.analyze(q.source, q.filename)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors or not definitions:
        first = errors[0] if errors else None
        where = f"line {first.line}, column {first.column}: " if first and first.line else ""
        detail = f"{q.filename}: {where}{first.message}" if first else f"{q.filename}: no @protocol function found"
        return ErrorReply(
            code="invalid", detail=detail, data={"diagnostics": [d.model_dump(mode="json") for d in diagnostics]}
        )
    source_hash = hashlib.sha256(q.source.encode()).hexdigest()
    session = uow.session
    await session.execute(
        insert(protocol_sources)
        .values(source_hash=source_hash, filename=q.filename, source=q.source)
        .on_conflict_do_nothing()
    )
    for definition in definitions:
        inserted = (
            await session.execute(
                insert(protocols)
                .values(
                    id=definition.id,
                    name=definition.name,
                    version=definition.version,
                    source_hash=source_hash,
                    definition=definition.model_dump(mode="json"),
                )
                .on_conflict_do_nothing()
                .returning(protocols.c.id)
            )
        ).first()
        if inserted is not None:
            uow.publish(ProtocolRegistered(definition=definition, **q.caused()))
    await uow.commit()
    return ProtocolsRegistered(protocols=definitions, diagnostics=diagnostics)


async def get_protocol(q: GetProtocol, uow: SqlUnitOfWork) -> Reply:
    row = (await uow.session.execute(sa.select(protocols.c.definition).where(protocols.c.id == q.protocol_id))).first()
    if row is None:
        return ErrorReply(code="not_found", detail=f"no protocol {q.protocol_id}")
    return ProtocolReply(definition=ProtocolDefinition.model_validate(row.definition))


async def list_protocols(q: ListProtocols, uow: SqlUnitOfWork) -> Reply:
    query = sa.select(protocols.c.definition).order_by(protocols.c.created_at.desc()).limit(min(max(q.limit, 1), 1000))
    if q.name:
        query = query.where(protocols.c.name == q.name)
    rows = (await uow.session.execute(query)).all()
    return ProtocolList(protocols=[ProtocolDefinition.model_validate(r.definition) for r in rows])


async def get_protocol_source(q: GetProtocolSource, uow: SqlUnitOfWork) -> Reply:
    row = (
        await uow.session.execute(sa.select(protocol_sources).where(protocol_sources.c.source_hash == q.source_hash))
    ).first()
    if row is None:
        return ErrorReply(code="not_found", detail=f"no source with hash {q.source_hash}")
    return ProtocolSource(source_hash=row.source_hash, filename=row.filename, source=row.source)
