"""Structured logs: one JSON object per line, carrying the correlation id of the message being handled."""

from __future__ import annotations

import json
import logging

from praxis_servicekit.logs import JsonFormatter, correlation_id


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("praxis.test", logging.INFO, __file__, 1, msg, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_line_carries_the_current_correlation_id_and_known_extras() -> None:
    token = correlation_id.set("run-42")
    try:
        line = JsonFormatter("scheduler").format(_record("placed", subject="praxis.x.evt.y.v1"))
    finally:
        correlation_id.reset(token)
    entry = json.loads(line)
    assert entry["service"] == "scheduler" and entry["msg"] == "placed" and entry["level"] == "info"
    assert entry["correlation_id"] == "run-42" and entry["subject"] == "praxis.x.evt.y.v1"


def test_without_a_message_in_flight_there_is_no_correlation_id() -> None:
    assert "correlation_id" not in json.loads(JsonFormatter("gateway").format(_record("boot")))
