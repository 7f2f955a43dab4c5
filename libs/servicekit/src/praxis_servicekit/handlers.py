"""Turn a service's handler tables into consumers and query routes, injecting dependencies by parameter name.

Handlers are plain functions ``async def verb(message, uow, *, clock, settings, ...)`` (cosmicpython's
bootstrap pattern): tests call them with fakes, and here they get the real thing. A handler for commands or
events gets a unit of work that the consumer opens, marks in the inbox and commits; a query handler gets a fresh
unit of work of its own (queries usually only read, but may write, e.g. a booking).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from praxis_contracts.base import Message, Reply
from praxis_servicekit.consumer import Subscription, check_subscriptions, version_number, version_wildcard
from praxis_servicekit.queries import QueryRoute


def inject(handler: Callable[..., Awaitable[Any]], deps: Mapping[str, Any]) -> Callable[..., Awaitable[Any]]:
    """Bind the handler's keyword parameters that ``deps`` names; the first two stay positional."""
    params = list(inspect.signature(handler).parameters)[2:]
    bound = {name: deps[name] for name in params if name in deps}
    missing = [
        name
        for name, p in list(inspect.signature(handler).parameters.items())[2:]
        if name not in bound and p.default is inspect.Parameter.empty
    ]
    if missing:
        raise TypeError(f"{handler.__qualname__} needs {missing}, which the service does not provide")

    async def call(message: Any, uow: Any) -> Any:
        return await handler(message, uow, **bound)

    call.__name__ = handler.__name__
    call.__qualname__ = handler.__qualname__
    return call


def subscriptions_for(
    service: str,
    command_handlers: Mapping[type[Message], Callable[..., Awaitable[None]]],
    event_handlers: Mapping[type[Message], Sequence[Callable[..., Awaitable[None]]]],
    deps: Mapping[str, Any],
    **options: Any,
) -> list[Subscription]:
    """One durable consumer per command, and one per (event type, handler) so each handler has its own
    delivery state: a failing projection does not make a healthy one see the event again.

    Versions of one command (``CancelRun`` and ``CancelRunV2``) share one consumer named after the oldest: its
    filter is the version wildcard, and a work-queue stream allows no second consumer on it. Versions of one
    *event* are refused (ValueError): which handlers belong together is not in the table, so wire a
    ``Subscription(..., versions=...)`` per handler yourself.
    """
    subs = []
    for versions in _versions_of_each_message(command_handlers):
        oldest, *newer = versions
        subs.append(
            Subscription(
                message_type=oldest,
                handler=inject(command_handlers[oldest], deps),
                versions={cls: inject(command_handlers[cls], deps) for cls in newer},
                **options,
            )
        )
    for cls, fns in event_handlers.items():
        for fn in fns:
            subs.append(
                Subscription(
                    message_type=cls,
                    handler=inject(fn, deps),
                    durable=f"{service}-{cls.__name__}-{fn.__name__}",
                    **options,
                )
            )
    check_subscriptions(subs, service)
    return subs


def _versions_of_each_message(classes: Iterable[type[Message]]) -> list[list[type[Message]]]:
    """Group message classes by their subject's version wildcard, oldest version first, in table order."""
    groups: dict[str, list[type[Message]]] = {}
    for cls in classes:
        groups.setdefault(version_wildcard(cls.subject), []).append(cls)
    return [sorted(group, key=lambda cls: version_number(cls.subject)) for group in groups.values()]


Q = TypeVar("Q", bound=Message)


def query_routes_for(
    query_handlers: Mapping[type[Q], Callable[..., Awaitable[Reply]]],
    uow_factory: Callable[[], Any] | None,
    deps: Mapping[str, Any],
) -> list[QueryRoute]:
    routes = []
    for cls, fn in query_handlers.items():
        routes.append(QueryRoute(cls, _with_uow(inject(fn, deps), uow_factory)))
    return routes


def _with_uow(
    handler: Callable[[Any, Any], Awaitable[Any]], uow_factory: Callable[[], Any] | None
) -> Callable[[Any], Awaitable[Reply]]:
    async def answer(query: Any) -> Reply:
        if uow_factory is None:
            reply: Reply = await handler(query, None)
            return reply
        async with uow_factory() as uow:
            reply = await handler(query, uow)
            if uow.session.in_transaction():
                await uow.commit()
            return reply

    return answer
