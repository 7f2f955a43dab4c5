"""The PLR catalog as discovery knows it: frontends, backends and resources with filters and facets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from praxis_contracts.discovery import MachineValidated, ValidateMachine
from praxis_gateway.api.deps import BusDep
from praxis_gateway.api.schemas import public
from praxis_gateway.catalog import (
    CatalogCollection,
    CatalogItem,
    CatalogPage,
    CatalogSearchResults,
    GetCatalogItem,
    ListCatalog,
    SearchCatalog,
)

router = APIRouter(prefix="/catalog", tags=["catalog"])


class ValidateMachineIn(BaseModel):
    frontend: str
    backend: str


CatalogPageOut = public(CatalogPage, "CatalogPageOut")
CatalogItemOut = public(CatalogItem, "CatalogItemOut")
CatalogSearchOut = public(CatalogSearchResults, "CatalogSearchOut")


@router.get("/search", response_model=CatalogSearchOut)
async def search_catalog(
    bus: BusDep, q: Annotated[str, Query(min_length=1)], limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> CatalogSearchResults:
    """Typeahead over catalog names, manufacturers and models."""
    return await bus.ask(SearchCatalog(q=q, limit=limit), CatalogSearchResults)


@router.post("/machines/validate", response_model=public(MachineValidated, "MachineValidatedOut"))
async def validate_machine(bus: BusDep, body: ValidateMachineIn) -> MachineValidated:
    """Check that a backend serves a frontend (422 with the reason when it does not)."""
    return await bus.ask(ValidateMachine(frontend=body.frontend, backend=body.backend), MachineValidated)


@router.get("/items/{fqn}", response_model=CatalogItemOut)
async def read_catalog_item(bus: BusDep, fqn: str) -> CatalogItem:
    """Read one catalog entry by fully qualified name."""
    return await bus.ask(GetCatalogItem(fqn=fqn), CatalogItem)


@router.get("/{collection}", response_model=CatalogPageOut)
async def read_catalog(
    bus: BusDep,
    collection: CatalogCollection,
    category: str | None = None,
    manufacturer: str | None = None,
    simulated: bool | None = None,
    kind: Annotated[str | None, Query(description="resources only: Plate, TipRack, Trough, ...")] = None,
    q: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CatalogPage:
    """List frontends, backends or resources, filtered, with facet counts."""
    query = ListCatalog(
        kind=collection,
        category=category,
        manufacturer=manufacturer,
        simulated=simulated,
        resource_kind=kind,
        q=q,
        limit=limit,
        offset=offset,
    )
    return await bus.ask(query, CatalogPage)
