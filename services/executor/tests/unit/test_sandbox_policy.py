"""The sandbox policy as a table: layers present or missing, the submitter's role, the operator's setting ->
the run starts (perhaps with a warning) or is refused with a reason that says what is missing and what to do."""

from __future__ import annotations

import pytest

from praxis_executor.adapters.sandbox_policy import LAYERS, SandboxReport, decide

COMPLETE = SandboxReport(active=dict.fromkeys(LAYERS, "on"), missing={})
NO_USER = SandboxReport(
    active={k: "on" for k in LAYERS if k != "uid"}, missing={"uid": "the executor runs as uid 1000, not root"}
)
NOTHING = SandboxReport(active={}, missing=dict.fromkeys(LAYERS, "kernel too old"))

# report, role, allow_unsandboxed -> allowed, warned
TABLE = [
    (COMPLETE, "scientist", False, True, False),
    (COMPLETE, "operator", False, True, False),
    (COMPLETE, "admin", False, True, False),
    (COMPLETE, "", False, True, False),
    (COMPLETE, "scientist", True, True, False),
    (NO_USER, "admin", False, True, True),
    (NO_USER, "admin", True, True, True),
    (NO_USER, "scientist", False, False, False),
    (NO_USER, "operator", False, False, False),
    (NO_USER, "", False, False, False),
    (NO_USER, "scientist", True, True, True),
    (NO_USER, "", True, True, True),
    (NOTHING, "admin", False, True, True),
    (NOTHING, "scientist", False, False, False),
    (NOTHING, "operator", True, True, True),
]


@pytest.mark.parametrize(("report", "role", "allow", "allowed", "warned"), TABLE)
def test_decision_table(report: SandboxReport, role: str, allow: bool, allowed: bool, warned: bool) -> None:
    verdict = decide(report, role, allow)
    assert verdict.allowed is allowed
    assert bool(verdict.warning) is warned
    assert bool(verdict.reason) is (not allowed)


def test_a_refusal_names_the_missing_layers_their_reasons_and_the_ways_out() -> None:
    reason = decide(NO_USER, "scientist", False).reason
    assert "uid (the executor runs as uid 1000, not root)" in reason
    assert "landlock-fs" not in reason
    assert "scientist" in reason and "admin" in reason and "PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED=1" in reason


def test_the_operators_override_is_named_in_the_warning() -> None:
    assert "PRAXIS_EXECUTOR_ALLOW_UNSANDBOXED" in decide(NOTHING, "scientist", True).warning


@pytest.mark.parametrize(
    ("active", "missing"),
    [
        ({"uid": "x"}, {}),  # a layer unaccounted for
        (dict.fromkeys(LAYERS, "x"), {"uid": "y"}),  # a layer both active and missing
        ({**dict.fromkeys(LAYERS, "x"), "cgroups": "x"}, {}),  # a layer nobody knows
    ],
)
def test_a_report_accounts_for_each_layer_exactly_once(active: dict[str, str], missing: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="names each"):
        SandboxReport(active=active, missing=missing)
