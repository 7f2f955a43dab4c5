"""The handler tables the bootstrap wires: every message type maps to handlers taking (message, uow, ...)."""

from __future__ import annotations

import inspect

from praxis_contracts.base import Query
from praxis_scheduler import handlers


class TestHandlerTables:
    def test_every_handler_takes_the_message_and_a_unit_of_work_first(self):
        every = [*handlers.COMMAND_HANDLERS.values(), *handlers.QUERY_HANDLERS.values()]
        every += [fn for fns in handlers.EVENT_HANDLERS.values() for fn in fns]
        for fn in every:
            assert list(inspect.signature(fn).parameters)[1] == "uow", fn.__name__

    def test_injected_dependencies_are_only_clock_and_settings_and_all_have_defaults(self):
        every = [*handlers.COMMAND_HANDLERS.values(), *handlers.QUERY_HANDLERS.values()]
        every += [fn for fns in handlers.EVENT_HANDLERS.values() for fn in fns]
        for fn in every:
            extra = list(inspect.signature(fn).parameters.values())[2:]
            assert {p.name for p in extra} <= {"clock", "settings"}, fn.__name__
            assert all(p.default is not inspect.Parameter.empty for p in extra), fn.__name__

    def test_queries_are_query_types(self):
        assert all(issubclass(q, Query) for q in handlers.QUERY_HANDLERS)

    def test_periodic_tasks_unpack_as_function_and_interval(self):
        for fn, interval in handlers.PERIODIC_TASKS:
            assert list(inspect.signature(fn).parameters)[:2] == ["uow_factory", "clock"]
            assert interval > 0
