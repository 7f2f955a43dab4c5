"""The permission table says what each service does on NATS; these checks keep it true to the handler tables its
bootstrap wires, so a new handler cannot meet a permissions violation first in production."""

from __future__ import annotations

import importlib

import pytest

from praxis_contracts.permissions import allows, grant, service_roles, subjects, version_wildcard
from praxis_contracts.streams import stream_for


@pytest.mark.parametrize("service", ["scheduler", "executor", "discovery"])
def test_a_services_consumers_are_exactly_its_handlers(service: str) -> None:
    handlers = importlib.import_module(f"praxis_{service}.handlers")
    handled = {*handlers.COMMAND_HANDLERS, *handlers.EVENT_HANDLERS}
    assert set(service_roles()[service].consumes) == handled


@pytest.mark.parametrize("service", ["scheduler", "executor", "discovery"])
def test_a_service_may_answer_every_query_it_handles(service: str) -> None:
    handlers = importlib.import_module(f"praxis_{service}.handlers")
    queries = getattr(handlers, "QUERY_HANDLERS", {})
    if service == "executor":  # the executor's query routes live in its bootstrap
        from praxis_contracts.executor import GetRun, GetRunEvents, GetRunOutputs, ListRuns

        queries = {GetRun: 0, ListRuns: 0, GetRunEvents: 0, GetRunOutputs: 0}
    g = grant(service_roles()[service])
    for subject in subjects(queries):
        assert allows(g.subscribe, subject), f"{service} answers {subject} but may not subscribe to it"


@pytest.mark.parametrize("service", ["scheduler", "executor"])
def test_every_consumer_a_service_wires_may_be_created(service: str) -> None:
    g = grant(service_roles()[service])
    for cls in service_roles()[service].consumes:
        stream = stream_for(cls.subject)
        assert stream is not None
        durable = f"{service}-{cls.__name__}"  # servicekit's durable name; the table does not depend on it
        api = f"$JS.API.CONSUMER.CREATE.{stream.name}.{durable}.{version_wildcard(cls.subject)}"
        assert allows(g.publish, api), api
