"""Issue 5 through the gateway: catalog lists with filters and facets, items, typeahead."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e

CHATTERBOX = "pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend"


def test_simulated_backends_filter_and_facets(stack, api: httpx.Client) -> None:
    page = api.get("/api/v1/catalog/backends", params={"simulated": "true", "limit": 500}).json()
    fqns = {item["fqn"] for item in page["items"]}
    assert CHATTERBOX in fqns
    assert all(item["simulated"] for item in page["items"])
    assert page["total"] == len(page["items"])
    assert page["facets"]["category"]["liquid_handling"] >= 1


def test_item_and_unknown_item(stack, api: httpx.Client) -> None:
    item = api.get(f"/api/v1/catalog/items/{CHATTERBOX}")
    assert item.status_code == 200
    assert "pylabrobot.liquid_handling.liquid_handler.LiquidHandler" in item.json()["item"]["frontends"]
    assert api.get("/api/v1/catalog/items/pylabrobot.nothing.Here").status_code == 404


def test_typeahead_finds_plates_by_manufacturer(stack, api: httpx.Client) -> None:
    hits = api.get("/api/v1/catalog/search", params={"q": "corning 96"}).json()["items"]
    assert hits and any("cor" in h["name"].lower() for h in hits)


def test_a_backend_that_does_not_serve_the_frontend_is_refused_with_a_reason(stack, api: httpx.Client) -> None:
    ok = api.post(
        "/api/v1/catalog/machines/validate",
        json={"frontend": "pylabrobot.liquid_handling.liquid_handler.LiquidHandler", "backend": CHATTERBOX},
    )
    assert ok.status_code == 200 and ok.json()["simulated"] is True
    refused = api.post(
        "/api/v1/catalog/machines/validate",
        json={
            "frontend": "pylabrobot.plate_reading.plate_reader.PlateReader",
            "backend": CHATTERBOX,
        },
    )
    assert refused.status_code == 422
    assert refused.json()["detail"]
