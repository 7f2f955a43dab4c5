"""Issue 3's end-to-end check: all services up -> 200; one stopped -> 503 naming it; restarted -> 200."""

from __future__ import annotations

import httpx
import pytest

from praxis_testkit.waiting import wait_for_sync

pytestmark = pytest.mark.e2e


def _health(api: httpx.Client) -> httpx.Response:
    return api.get("/api/v1/health")


def test_health_names_a_stopped_service_and_recovers(stack, api: httpx.Client) -> None:
    first = _health(api)
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body["services"]) >= {"discovery", "scheduler", "executor", "hardware-agent"}
    assert all(s["status"] == "ok" for s in body["services"].values())

    stack.stop("scheduler")
    down = wait_for_sync(lambda: (r := _health(api)).status_code == 503 and r, timeout=20)
    assert down.json()["services"]["scheduler"]["status"] != "ok"
    assert down.json()["services"]["discovery"]["status"] == "ok"

    stack.start("scheduler")
    wait_for_sync(lambda: _health(api).status_code == 200, timeout=60)
