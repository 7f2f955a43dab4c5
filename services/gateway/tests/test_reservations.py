"""Queue, benches and reservations: scheduler queries passed through; 409 names the clash; release needs a reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from praxis_contracts.base import ErrorReply, utcnow
from praxis_contracts.hardware import BenchList, BenchState, ListBenches, MachineInfo
from praxis_contracts.scheduler import (
    BookReservation,
    ForceReleaseReservation,
    GetQueue,
    ListReservations,
    QueueEntry,
    QueueReply,
    ReservationInfo,
    ReservationList,
)

pytestmark = pytest.mark.integration


def reservation(rid: str, asset_id: str = "bench-1/starlet", owner: str = "ada", **extra: Any) -> ReservationInfo:
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    return ReservationInfo(
        id=rid,
        asset_id=asset_id,
        owner_kind="user",
        owner=owner,
        purpose="calibration",
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        created_at=utcnow(),
        **extra,
    )


def window(hours_from_now: int = 1, length_h: int = 2) -> dict[str, str]:
    start = utcnow().replace(microsecond=0) + timedelta(hours=hours_from_now)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=length_h)).isoformat()}


class TestReservations:
    async def test_lists_with_filters(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(ListReservations, ReservationList(reservations=[reservation("r1")]))

        response = await client.get(
            "/api/v1/reservations", params={"asset_id": "bench-1/starlet", "include_released": "true"}
        )

        assert response.status_code == 200
        assert [r["id"] for r in response.json()["reservations"]] == ["r1"]
        [query] = fakes.queries(ListReservations)
        assert (query.asset_id, query.include_released) == ("bench-1/starlet", True)

    async def test_books_for_the_current_user(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(BookReservation, lambda q: reservation("r2", q.asset_id, q.owner))

        response = await client.post(
            "/api/v1/reservations", json={"asset_id": "bench-1/starlet", "purpose": "calibration", **window()}
        )

        assert response.status_code == 201, response.text
        assert response.json()["id"] == "r2"
        [query] = fakes.queries(BookReservation)
        assert (query.owner, query.purpose) == ("local", "calibration")
        assert query.starts_at.tzinfo is not None

    async def test_a_clash_is_409_with_the_conflicting_reservation(self, client: httpx.AsyncClient, fakes: Any) -> None:
        clash = reservation("r-held", owner="grace")
        await fakes.answer(
            BookReservation,
            ErrorReply(
                code="conflict",
                detail="bench-1/starlet is reserved by grace",
                data={"conflicting": clash.model_dump(mode="json")},
            ),
        )

        response = await client.post("/api/v1/reservations", json={"asset_id": "bench-1/starlet", **window()})

        assert response.status_code == 409
        body = response.json()
        assert body["detail"] == "bench-1/starlet is reserved by grace"
        assert body["conflicting"]["id"] == "r-held"
        assert body["conflicting"]["owner"] == "grace"
        assert "message_id" not in body["conflicting"]  # the envelope of the attached reply is dropped

    async def test_a_window_that_ends_before_it_starts_is_422(self, client: httpx.AsyncClient) -> None:
        start = window()
        response = await client.post(
            "/api/v1/reservations",
            json={"asset_id": "bench-1/starlet", "starts_at": start["ends_at"], "ends_at": start["starts_at"]},
        )

        assert response.status_code == 422

    async def test_release_without_a_reason_is_422(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(ForceReleaseReservation, lambda q: reservation(q.reservation_id))

        response = await client.delete("/api/v1/reservations/r1")
        blank = await client.request("DELETE", "/api/v1/reservations/r1", json={"reason": "  "})

        assert response.status_code == 422
        assert response.json()["parameter"] == "reason"
        assert blank.status_code == 422
        assert fakes.queries(ForceReleaseReservation) == []

    async def test_release_with_a_reason_in_the_body_or_the_query(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(
            ForceReleaseReservation,
            lambda q: reservation(q.reservation_id, released_at=utcnow(), release_reason=q.reason),
        )

        in_body = await client.request("DELETE", "/api/v1/reservations/r1", json={"reason": "bench broken"})
        in_query = await client.delete("/api/v1/reservations/r2", params={"reason": "stale"})

        assert (in_body.status_code, in_query.status_code) == (200, 200)
        assert in_body.json()["release_reason"] == "bench broken"
        queries = fakes.queries(ForceReleaseReservation)
        assert [(q.reservation_id, q.reason, q.by) for q in queries] == [
            ("r1", "bench broken", "local"),
            ("r2", "stale", "local"),
        ]

    async def test_release_of_an_unknown_reservation_is_404(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(ForceReleaseReservation, ErrorReply(code="not_found", detail="no reservation r9"))

        response = await client.delete("/api/v1/reservations/r9", params={"reason": "cleanup"})

        assert response.status_code == 404


class TestQueueAndBenches:
    async def test_shows_the_queue(self, client: httpx.AsyncClient, fakes: Any) -> None:
        entry = QueueEntry(
            run_id="r1",
            protocol_name="serial_dilution",
            priority=1,
            position=1,
            status="waiting",
            submitted_at=utcnow(),
            eta=utcnow(),
            why_waiting="no online liquid handler",
        )
        await fakes.answer(GetQueue, QueueReply(entries=[entry]))

        response = await client.get("/api/v1/queue")

        assert response.status_code == 200
        [shown] = response.json()["entries"]
        assert (shown["run_id"], shown["why_waiting"]) == ("r1", "no online liquid handler")
        assert "message_id" not in shown

    async def test_lists_benches_with_machines(self, client: httpx.AsyncClient, fakes: Any) -> None:
        machine = MachineInfo(
            name="starlet",
            frontend="pylabrobot.liquid_handling.LiquidHandler",
            backend="pylabrobot.liquid_handling.backends.LiquidHandlerChatterboxBackend",
            category="liquid_handling",
            simulated=True,
        )
        bench = BenchState(
            bench_id="bench-1", simulated=True, online=True, last_heartbeat=utcnow().isoformat(), machines=[machine]
        )
        await fakes.answer(ListBenches, BenchList(benches=[bench]))

        response = await client.get("/api/v1/benches")

        assert response.status_code == 200
        [shown] = response.json()["benches"]
        assert (shown["bench_id"], shown["online"]) == ("bench-1", True)
        assert shown["machines"][0]["name"] == "starlet"

    async def test_scheduler_down_is_503(self, make_client: Any) -> None:
        client = await make_client(query_timeout_s=0.3)

        response = await client.get("/api/v1/benches")

        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
