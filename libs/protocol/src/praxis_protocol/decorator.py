"""``@protocol`` and the ``Annotated`` markers for user parameters.

No I/O and no registry: the decorator stores a :class:`ProtocolInfo` on the function so the executor can find
it after loading the file; discovery reads the same information from the source without importing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

PROTOCOL_ATTRIBUTE = "__praxis_protocol__"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True)
class Range:
    """Inclusive numeric bounds for a user parameter: ``Annotated[float, Range(1, 200)]``."""

    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Choices:
    """The allowed values of a user parameter: ``Annotated[str, Choices("fast", "slow")]``."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", tuple(values))


@dataclass(frozen=True)
class Unit:
    """The unit a number is in (``"uL"``, ``"nm"``, ``"s"``): shown in the console next to the field."""

    symbol: str


@dataclass(frozen=True)
class Description:
    """Help text for a parameter."""

    text: str


@dataclass(frozen=True)
class SetupInstruction:
    """Something an operator must do before the run starts (shown and acknowledged in the console)."""

    text: str
    resource: str | None = None


@dataclass(frozen=True)
class DataView:
    """An output the protocol produces that the console should display (e.g. a plate read)."""

    name: str
    kind: str = "table"
    description: str = ""


@dataclass(frozen=True)
class ProtocolInfo:
    name: str
    version: str = "0.1.0"
    description: str = ""
    setup_instructions: tuple[SetupInstruction | str, ...] = ()
    data_views: tuple[DataView, ...] = ()
    estimated_duration_s: float | None = None
    tags: tuple[str, ...] = field(default=())


def protocol(
    name: str | None = None,
    *,
    version: str = "0.1.0",
    description: str = "",
    setup_instructions: tuple[SetupInstruction | str, ...] | list[SetupInstruction | str] = (),
    data_views: tuple[DataView, ...] | list[DataView] = (),
    estimated_duration_s: float | None = None,
    tags: tuple[str, ...] | list[str] = (),
) -> Callable[[F], F]:
    """Mark an async function as a Praxis protocol. Returns the function unchanged but for one attribute."""

    def mark(fn: F) -> F:
        info = ProtocolInfo(
            name=name or fn.__name__,
            version=version,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            setup_instructions=tuple(setup_instructions),
            data_views=tuple(data_views),
            estimated_duration_s=estimated_duration_s,
            tags=tuple(tags),
        )
        setattr(fn, PROTOCOL_ATTRIBUTE, info)
        return fn

    return mark
