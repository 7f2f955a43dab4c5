"""JSON-schema snapshots: a message's wire shape never changes by accident.

Regenerate after an intended, compatible change (an optional field added):
``PRAXIS_UPDATE_SNAPSHOTS=1 uv run pytest libs/contracts`` and commit ``libs/contracts/schemas/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from praxis_contracts.base import Message
from praxis_contracts.scheduler import RunRejected

Problem = Callable[[type[Message], Path], "str | None"]


def test_schema_matches_its_snapshot(
    message_class: type[Message],
    snapshot_file: Callable[[type[Message]], Path],
    snapshot_problem: Problem,
    schema_text: Callable[[type[Message]], str],
    update_snapshots: bool,
) -> None:
    path = snapshot_file(message_class)
    if update_snapshots:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != schema_text(message_class):
            path.write_text(schema_text(message_class))
        return
    problem = snapshot_problem(message_class, path)
    if problem:
        pytest.fail(problem, pytrace=False)


def test_no_snapshot_without_a_class(
    message_classes: list[type[Message]],
    snapshot_file: Callable[[type[Message]], Path],
    schemas_dir: Path,
    update_snapshots: bool,
) -> None:
    expected = {snapshot_file(cls).name for cls in message_classes}
    stale = sorted(p for p in schemas_dir.glob("*.json") if p.name not in expected)
    if update_snapshots:
        for path in stale:
            path.unlink()
        return
    assert not stale, f"snapshots of classes that no longer exist: {[p.name for p in stale]} (delete them)"


def test_a_changed_schema_is_reported_with_a_diff_and_what_to_do(
    snapshot_file: Callable[[type[Message]], Path], snapshot_problem: Problem, tmp_path: Path
) -> None:
    class RunRejectedWithCode(RunRejected):  # as if someone had added a required field to RunRejected
        subject: ClassVar[str] = RunRejected.subject
        code: int

    problem = snapshot_problem(RunRejectedWithCode, snapshot_file(RunRejected))
    assert problem is not None
    assert "changed without updating praxis.scheduler.evt.run_rejected.v1.json" in problem
    assert "PRAXIS_UPDATE_SNAPSHOTS=1" in problem and "new class on the next .vN" in problem
    assert '+    "code": {' in problem

    missing = snapshot_problem(RunRejected, tmp_path / "nothing.json")
    assert missing is not None and "has no JSON-schema snapshot" in missing
