"""Catalog routes pass filters to discovery's catalog queries and return its items and facets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from praxis_contracts.base import ErrorReply
from praxis_gateway.catalog import (
    CatalogCollection,
    CatalogItem,
    CatalogPage,
    CatalogSearchResults,
    GetCatalogItem,
    ListCatalog,
    SearchCatalog,
)

pytestmark = pytest.mark.integration

STAR = {
    "fqn": "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend",
    "category": "liquid_handling",
    "manufacturer": "Hamilton",
    "simulated": False,
}


class TestCatalog:
    async def test_lists_a_collection_with_filters_and_facets(self, client: httpx.AsyncClient, fakes: Any) -> None:
        facets = {"category": {"liquid_handling": 1}, "manufacturer": {"Hamilton": 1}, "kind": {"backend": 1}}
        await fakes.answer(ListCatalog, CatalogPage(items=[STAR], total=1, facets=facets))

        response = await client.get(
            "/api/v1/catalog/backends",
            params={
                "category": "liquid_handling",
                "manufacturer": "Hamilton",
                "simulated": "false",
                "q": "star",
                "limit": 10,
                "offset": 5,
            },
        )

        assert response.status_code == 200
        assert response.json() == {"items": [STAR], "total": 1, "facets": facets}
        [query] = fakes.queries(ListCatalog)
        assert query.kind is CatalogCollection.BACKENDS
        assert (query.category, query.manufacturer, query.simulated, query.q) == (
            "liquid_handling",
            "Hamilton",
            False,
            "star",
        )
        assert (query.limit, query.offset, query.resource_kind) == (10, 5, None)

    async def test_resources_filter_by_kind(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(ListCatalog, CatalogPage(items=[], total=0))

        response = await client.get("/api/v1/catalog/resources", params={"kind": "Plate"})

        assert response.status_code == 200
        [query] = fakes.queries(ListCatalog)
        assert (query.kind, query.resource_kind) == (CatalogCollection.RESOURCES, "Plate")

    async def test_unknown_collection_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/catalog/robots")

        assert response.status_code == 422

    async def test_reads_an_item_by_fqn(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(
            GetCatalogItem,
            lambda q: (
                CatalogItem(item=STAR)
                if q.fqn == STAR["fqn"]
                else ErrorReply(code="not_found", detail=f"no catalog entry {q.fqn}")
            ),
        )

        found = await client.get(f"/api/v1/catalog/items/{STAR['fqn']}")
        missing = await client.get("/api/v1/catalog/items/pylabrobot.nope.Nope")

        assert (found.status_code, found.json()) == (200, {"item": STAR})
        assert missing.status_code == 404

    async def test_searches(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(SearchCatalog, CatalogSearchResults(items=[STAR]))

        response = await client.get("/api/v1/catalog/search", params={"q": "ham"})
        empty = await client.get("/api/v1/catalog/search", params={"q": ""})

        assert response.json() == {"items": [STAR]}
        assert fakes.queries(SearchCatalog)[0].q == "ham"
        assert empty.status_code == 422
