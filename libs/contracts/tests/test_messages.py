"""Every message round-trips through JSON; the envelope's rules (UTC, frozen, tolerant reader) hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from praxis_contracts.base import Message
from praxis_contracts.registry import decode, encode, subject_of
from praxis_contracts.scheduler import LeaseExpired, SubmitRun

Sample = Callable[[type[Message]], Message]


def test_every_message_round_trips_through_json(message_class: type[Message], sample: Sample) -> None:
    msg = sample(message_class)
    assert type(msg) is message_class
    assert msg.model_fields_set == set(message_class.model_fields)  # the sample exercises every field

    again = message_class.model_validate_json(msg.model_dump_json())
    assert again == msg
    assert again.model_dump(mode="json") == msg.model_dump(mode="json")


def test_every_routed_message_round_trips_through_the_registry(routed_class: type[Message], sample: Sample) -> None:
    msg = sample(routed_class)
    subject = subject_of(msg)
    assert "{" not in subject
    assert decode(subject, encode(msg)) == msg


def test_the_sample_generator_knows_every_field_type(message_classes: list[type[Message]], sample: Sample) -> None:
    """One failure naming each class whose fields the generator cannot fill (a new class needs a sample)."""
    missing = []
    for cls in message_classes:
        try:
            sample(cls)
        except (TypeError, ValidationError) as exc:
            missing.append(f"{cls.__qualname__}: {exc}")
    assert not missing, "\n".join(missing)


def submit_run(**fields: object) -> SubmitRun:
    base: dict[str, object] = {
        "run_id": "r1",
        "protocol_id": "p1",
        "protocol_name": "n",
        "source_hash": "h",
        "function": "f",
    }
    return SubmitRun.model_validate({**base, **fields})


def test_a_naive_occurred_at_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at must be timezone-aware"):
        submit_run(occurred_at=datetime(2024, 1, 1, 12, 0))
    with pytest.raises(ValidationError, match="occurred_at must be timezone-aware"):
        decode(SubmitRun.subject, submit_run().model_dump_json().replace("Z", "").replace("+00:00", ""))


def test_a_naive_datetime_is_refused_in_any_field() -> None:
    with pytest.raises(ValidationError, match="expired_at must be timezone-aware"):
        LeaseExpired(run_id="r1", asset_ids=["b/m"], expired_at=datetime(2024, 1, 1, 12, 0))


def test_aware_datetimes_are_stored_as_utc() -> None:
    cest = timezone(timedelta(hours=2))
    event = LeaseExpired(
        run_id="r1",
        asset_ids=[],
        expired_at=datetime(2024, 6, 1, 14, 0, tzinfo=cest),
        occurred_at=datetime(2024, 6, 1, 14, 0, tzinfo=cest),
    )
    assert event.expired_at == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert event.expired_at.tzinfo == UTC and event.occurred_at.tzinfo == UTC
    assert submit_run().occurred_at.tzinfo == UTC  # the default, too


def test_messages_are_frozen_and_readers_are_tolerant() -> None:
    msg = submit_run()
    with pytest.raises(ValidationError, match="frozen"):
        msg.run_id = "other"  # type: ignore[misc]
    newer = msg.model_dump(mode="json") | {"a_field_from_a_newer_writer": 1}
    assert decode(SubmitRun.subject, json.dumps(newer)) == msg  # extra="ignore": adding a field keeps v1


def test_caused_links_a_reply_to_its_cause() -> None:
    msg = submit_run(correlation_id="r1")
    assert msg.caused() == {"correlation_id": "r1", "causation_id": str(msg.message_id)}


def test_a_class_whose_field_type_has_no_sample_fails_loudly(sample: Sample) -> None:
    class WithBlob(Message):
        blob: bytes

    with pytest.raises(TypeError, match=r"no sample value for WithBlob\.blob.*SAMPLE_OVERRIDES"):
        sample(WithBlob)
