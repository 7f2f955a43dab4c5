"""The console's vocabulary: run statuses and control rules served from the contracts, never copied into app.js."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import httpx
import pytest

from praxis_contracts.runs import RECOVERY_CHOICES, TERMINAL_STATUSES, RunAction, RunStatus, refusal
from praxis_gateway.app import CONSOLE_DIR
from praxis_gateway.vocabulary import GLOBAL

pytestmark = pytest.mark.integration


def parse(script: str) -> dict[str, Any]:
    match = re.search(rf"window\.{GLOBAL} = Object\.freeze\((.*)\);\s*$", script, re.DOTALL)
    assert match, script[:200]
    data: dict[str, Any] = json.loads(match.group(1))
    return data


class TestVocabulary:
    async def test_serves_the_statuses_of_the_contracts(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/console/vocabulary.js")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        vocabulary = parse(response.text)
        assert vocabulary["runStatuses"] == [s.value for s in RunStatus]
        assert set(vocabulary["terminalStatuses"]) == {s.value for s in TERMINAL_STATUSES}
        assert vocabulary["status"]["NEEDS_OPERATOR"] == "needs_operator"
        assert vocabulary["recoveryChoices"] == list(RECOVERY_CHOICES)

    async def test_tabulates_refusal_for_every_status_and_action(self, client: httpx.AsyncClient) -> None:
        refusals = parse((await client.get("/console/vocabulary.js")).text)["refusals"]

        for status in RunStatus:
            for action in get_args(RunAction):
                assert refusals[status.value]["steady"][action] == refusal(status, action)
                assert refusals[status.value]["pausing"][action] == refusal(status, action, pause_requested=True)

    async def test_needs_no_api_key(self, make_client: Any, gateway_dsn: str) -> None:
        client: httpx.AsyncClient = await make_client(auth="api-key", database_url=gateway_dsn)

        assert (await client.get("/console/vocabulary.js")).status_code == 200

    async def test_index_loads_it_before_app_js(self, client: httpx.AsyncClient) -> None:
        index = (await client.get("/")).text

        assert index.index('src="/console/vocabulary.js"') < index.index('src="app.js"')


def quoted_statuses(source: str) -> set[str]:
    """Run statuses written as a JS string literal ("running", 'paused', `failed`) in ``source``."""
    return {s.value for s in RunStatus if re.search(rf"""(["'`]){re.escape(s.value)}\1""", source) is not None}


class TestNoHardCodedStatuses:
    """The console once kept its own status list, which had already drifted from ``RunStatus``."""

    def test_app_js_quotes_no_run_status(self) -> None:
        quoted = quoted_statuses((CONSOLE_DIR / "app.js").read_text())

        assert quoted == set(), (
            f"app.js hard-codes run statuses {sorted(quoted)}; use window.{GLOBAL} (GET /console/vocabulary.js)"
        )

    def test_the_check_catches_the_old_list(self) -> None:
        old = 'const TERMINAL = new Set(["completed", "failed", "cancelled", "rejected"]);'

        assert quoted_statuses(old) == {"completed", "failed", "cancelled", "rejected"}
