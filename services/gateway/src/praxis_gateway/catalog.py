"""Catalog queries the gateway asks discovery (issue 5); the models live in ``praxis_contracts.discovery``."""

from praxis_contracts.discovery import (
    CatalogCollection,
    CatalogItem,
    CatalogPage,
    CatalogSearchResults,
    GetCatalogItem,
    ListCatalog,
    SearchCatalog,
)

__all__ = [
    "CatalogCollection",
    "CatalogItem",
    "CatalogPage",
    "CatalogSearchResults",
    "GetCatalogItem",
    "ListCatalog",
    "SearchCatalog",
]
