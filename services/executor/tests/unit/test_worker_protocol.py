"""The typed boundary between the executor and its worker: every report and control survives its line encoding,
and anything else is refused rather than guessed at."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from praxis_executor.worker.protocol import (
    CallReport,
    CancelControl,
    FinishedReport,
    JobSpec,
    ParkedReport,
    PausedReport,
    ResumedReport,
    StartedReport,
    SupersededReport,
    SuspendControl,
    SuspendedReport,
    encode_line,
    parse_control,
    parse_report,
)

REPORTS = [
    StartedReport(pid=42),
    CallReport(
        sequence=3,
        bench_id="b1",
        machine="lh",
        method="aspirate",
        args={"ops": [{"volume": 5.0}]},
        ok=False,
        error_type="TooLittleLiquidError",
        error="well A1 holds 2 uL",
        replayed=True,
    ),
    PausedReport(),
    ResumedReport(),
    ParkedReport(step=9, kind="unknown_outcome", reason="agent died", choices=["happened", "retry", "abort"]),
    SuspendedReport(),
    SupersededReport(detail="epoch 3 drives it now"),
    FinishedReport(status="completed", outputs={"result": [1, 2.5, None]}),
]


@pytest.mark.parametrize("report", REPORTS, ids=lambda r: r.type)
def test_every_report_round_trips_through_its_line(report: object) -> None:
    assert parse_report(encode_line(report)) == report  # type: ignore[arg-type]


@pytest.mark.parametrize("control", [CancelControl(reason="enough"), SuspendControl()], ids=lambda c: c.type)
def test_controls_round_trip(control: object) -> None:
    assert parse_control(encode_line(control)) == control  # type: ignore[arg-type]


@pytest.mark.parametrize("line", [b"", b"not json", b'{"type": "finished", "status": "exploded"}', b'{"type": "x"}'])
def test_anything_else_is_refused(line: bytes) -> None:
    with pytest.raises(ValidationError):
        parse_report(line)


def test_a_failed_call_reads_as_type_and_message_in_the_journal() -> None:
    assert REPORTS[1].error_text == "TooLittleLiquidError: well A1 holds 2 uL"  # type: ignore[attr-defined]


def test_a_job_refuses_a_journal_with_gaps() -> None:
    entry = {"bench_id": "b", "machine": "m", "method": "x"}
    with pytest.raises(ValidationError, match="without gaps"):
        JobSpec(
            run_id="r",
            function="f",
            source="",
            assignment={"assets": []},  # type: ignore[arg-type]
            nats_url="nats://x",
            journal=[{"sequence": 1, **entry}, {"sequence": 3, **entry}],  # type: ignore[list-item]
        )
