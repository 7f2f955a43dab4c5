"""Messages owned by the discovery service: protocol registration and lookup, catalog sync."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from praxis_contracts.base import Event, Query, Reply
from praxis_contracts.protocols import Diagnostic, ProtocolDefinition


class RegisterProtocol(Query):
    """Register a protocol file (request/reply so the uploader learns at once whether it was accepted).

    Answer: :class:`ProtocolsRegistered`, or an ``ErrorReply(code="invalid")`` whose ``data["diagnostics"]``
    lists every problem with line and column.
    """

    subject: ClassVar[str] = "praxis.discovery.qry.register_protocol.v1"

    filename: str
    source: str


class ProtocolsRegistered(Reply):
    protocols: list[ProtocolDefinition]
    diagnostics: list[Diagnostic] = Field(default_factory=list)


class ProtocolRegistered(Event):
    subject: ClassVar[str] = "praxis.discovery.evt.protocol_registered.v1"

    definition: ProtocolDefinition


class GetProtocol(Query):
    subject: ClassVar[str] = "praxis.discovery.qry.get_protocol.v1"

    protocol_id: str


class ProtocolReply(Reply):
    definition: ProtocolDefinition


class ListProtocols(Query):
    subject: ClassVar[str] = "praxis.discovery.qry.list_protocols.v1"

    name: str | None = None
    limit: int = 200


class ProtocolList(Reply):
    protocols: list[ProtocolDefinition]


class GetProtocolSource(Query):
    """The source text of a registered file, by its sha256 (the executor runs exactly what was analysed)."""

    subject: ClassVar[str] = "praxis.discovery.qry.get_protocol_source.v1"

    source_hash: str


class ProtocolSource(Reply):
    source_hash: str
    filename: str
    source: str


class CatalogSynced(Event):
    subject: ClassVar[str] = "praxis.discovery.evt.catalog_synced.v1"

    plr_version: str
    frontends: int
    backends: int
    resources: int
    simulated_frontends: int = 0
    duration_s: float = 0.0


class CatalogCollection(StrEnum):
    FRONTENDS = "frontends"
    BACKENDS = "backends"
    RESOURCES = "resources"


class ListCatalog(Query):
    """One page of a catalog collection, filtered, with facet counts over the whole filtered set."""

    subject: ClassVar[str] = "praxis.discovery.qry.catalog_list.v1"

    kind: CatalogCollection
    category: str | None = None
    manufacturer: str | None = None
    simulated: bool | None = None
    resource_kind: str | None = Field(default=None, description="resources only: Plate, TipRack, Trough, ...")
    q: str | None = None
    limit: int = 100
    offset: int = 0


class CatalogPage(Reply):
    items: list[dict[str, Any]]
    total: int
    facets: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="facet -> value -> count; facets: category, manufacturer, kind"
    )


class GetCatalogItem(Query):
    subject: ClassVar[str] = "praxis.discovery.qry.catalog_item.v1"

    fqn: str


class CatalogItem(Reply):
    item: dict[str, Any]


class SearchCatalog(Query):
    """Typeahead over names, manufacturers and models."""

    subject: ClassVar[str] = "praxis.discovery.qry.catalog_search.v1"

    q: str
    limit: int = 20


class CatalogSearchResults(Reply):
    items: list[dict[str, Any]]


class ValidateMachine(Query):
    """Would this backend drive this frontend? A machine record (frontend + chosen backend) is only accepted when
    the backend serves the frontend; the answer is :class:`MachineValidated` or ``ErrorReply(code="invalid")``
    with the reason."""

    subject: ClassVar[str] = "praxis.discovery.qry.validate_machine.v1"

    frontend: str
    backend: str


class MachineValidated(Reply):
    frontend: str
    backend: str
    simulated: bool
