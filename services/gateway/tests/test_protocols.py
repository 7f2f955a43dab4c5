"""Protocol upload (discovery analyses the file), listing and lookup."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from praxis_contracts.base import ErrorReply
from praxis_contracts.discovery import (
    GetProtocol,
    ListProtocols,
    ProtocolList,
    ProtocolReply,
    ProtocolsRegistered,
    RegisterProtocol,
)
from praxis_contracts.protocols import Diagnostic, ProtocolDefinition

pytestmark = pytest.mark.integration

SOURCE = """from praxis_protocol import protocol

@protocol(name="serial_dilution", version="1.0.0")
async def serial_dilution(lh, plate, volume_ul: float = 100.0):
    ...
"""


def upload(data: bytes, filename: str = "serial_dilution.py") -> dict[str, Any]:
    return {"file": (filename, data, "text/x-python")}


class TestUploadProtocol:
    async def test_returns_the_first_definition_and_all_of_them(
        self, client: httpx.AsyncClient, fakes: Any, definition: ProtocolDefinition
    ) -> None:
        second = definition.model_copy(update={"id": definition.id + "2", "name": "other", "function": "other"})
        await fakes.answer(RegisterProtocol, ProtocolsRegistered(protocols=[definition, second]))

        response = await client.post("/api/v1/protocols", files=upload(SOURCE.encode()))

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"] == definition.id
        assert body["name"] == definition.name
        assert [p["name"] for p in body["parameters"]] == ["volume_ul", "columns"]
        assert body["parameters"][0]["unit"] == "uL"
        assert [a["name"] for a in body["assets"]] == ["lh", "plate"]
        assert [p["id"] for p in body["protocols"]] == [definition.id, second.id]
        [query] = fakes.queries(RegisterProtocol)
        assert (query.filename, query.source) == ("serial_dilution.py", SOURCE)

    async def test_rejected_file_gives_422_with_diagnostics(self, client: httpx.AsyncClient, fakes: Any) -> None:
        diagnostic = Diagnostic(line=4, column=27, message="invalid syntax")
        await fakes.answer(
            RegisterProtocol,
            ErrorReply(
                code="invalid",
                detail="line 4: invalid syntax",
                data={"diagnostics": [diagnostic.model_dump(mode="json")]},
            ),
        )

        response = await client.post("/api/v1/protocols", files=upload(b"async def broken(:\n"))

        assert response.status_code == 422
        body = response.json()
        assert body["detail"] == "line 4: invalid syntax"
        assert body["diagnostics"] == [{"severity": "error", "line": 4, "column": 27, "message": "invalid syntax"}]

    async def test_non_utf8_file_is_422_without_asking_discovery(
        self, client: httpx.AsyncClient, fakes: Any, definition: ProtocolDefinition
    ) -> None:
        await fakes.answer(RegisterProtocol, ProtocolsRegistered(protocols=[definition]))

        response = await client.post("/api/v1/protocols", files=upload(b"x = '\xff\xfe'\n"))

        assert response.status_code == 422
        assert "UTF-8" in response.json()["detail"]
        assert fakes.queries(RegisterProtocol) == []

    async def test_empty_file_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/protocols", files=upload(b"  \n"))

        assert response.status_code == 422
        assert response.json()["detail"] == "the file is empty"

    async def test_file_over_one_mebibyte_is_413(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(RegisterProtocol, ErrorReply(code="internal", detail="must not be asked"))

        just_over = await client.post("/api/v1/protocols", files=upload(b"#" * (1024 * 1024 + 1)))
        far_over = await client.post("/api/v1/protocols", files=upload(b"#" * (3 * 1024 * 1024)))

        assert just_over.status_code == 413
        assert "1048576" in just_over.json()["detail"]
        assert far_over.status_code == 413
        assert "detail" in far_over.json()
        assert fakes.queries(RegisterProtocol) == []

    async def test_a_file_over_the_bus_payload_limit_is_413(
        self, client: httpx.AsyncClient, fakes: Any, nc: Any, definition: ProtocolDefinition
    ) -> None:
        await fakes.answer(RegisterProtocol, ProtocolsRegistered(protocols=[definition]))
        source = b"x = 1\n" * (1024 * 1024 // 6)  # under 1 MiB, but newlines double in the JSON query

        response = await client.post("/api/v1/protocols", files=upload(source))

        if (
            len(RegisterProtocol(filename="serial_dilution.py", source=source.decode()).model_dump_json())
            > nc.max_payload
        ):
            assert response.status_code == 413
            assert "message bus" in response.json()["detail"]
        else:
            assert response.status_code == 201

    async def test_discovery_down_is_503(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/api/v1/protocols", files=upload(SOURCE.encode()))

        assert response.status_code == 503
        assert "register_protocol" in response.json()["detail"]


class TestReadProtocols:
    async def test_lists_protocols(self, client: httpx.AsyncClient, fakes: Any, definition: ProtocolDefinition) -> None:
        await fakes.answer(ListProtocols, ProtocolList(protocols=[definition]))

        response = await client.get("/api/v1/protocols", params={"name": definition.name})

        assert response.status_code == 200
        assert [p["id"] for p in response.json()["protocols"]] == [definition.id]
        assert fakes.queries(ListProtocols)[0].name == definition.name

    async def test_reads_one(self, client: httpx.AsyncClient, fakes: Any, definition: ProtocolDefinition) -> None:
        await fakes.answer(GetProtocol, ProtocolReply(definition=definition))

        response = await client.get(f"/api/v1/protocols/{definition.id}")

        assert response.status_code == 200
        assert ProtocolDefinition.model_validate(response.json()) == definition

    async def test_unknown_is_404(self, client: httpx.AsyncClient, fakes: Any) -> None:
        await fakes.answer(GetProtocol, ErrorReply(code="not_found", detail="no protocol nope"))

        response = await client.get("/api/v1/protocols/nope")

        assert response.status_code == 404
        assert response.json() == {"detail": "no protocol nope", "code": "not_found"}
