"""Proxy backends: PLR backends whose every call becomes a machine call to the bench's hardware agent.

The frontend (``LiquidHandler``, ``PlateReader``...) runs here unchanged, with its trackers; only the backend is
swapped. A proxy is generated from the backend interface the frontend accepts (:func:`proxy_backend_class`):
every public coroutine of that ABC forwards its method name and keyword arguments; synchronous abstract
properties (``num_channels``, ``supports_locking``) answer from the values the agent reported in its bench
description. ``setup``/``stop`` stay local: the agent's device is already set up and outlives the run.

Why not PLR's ``SerializingBackend``: it flattens ops into dicts (96-head ops lose their plate, ``drop_resource``
loses rotation) that a real backend on the agent could not take back, and it hard-codes a 96 head. The codec of
:mod:`praxis_plrbridge.codec` keeps the op classes, so the agent calls its backend exactly as the frontend did.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pylabrobot.liquid_handling.backends.backend import LiquidHandlerBackend
from pylabrobot.machines.backend import MachineBackend
from pylabrobot.resources import Tip

from praxis_contracts.hardware import Ack, BenchDescription, EndRun, LoadRunDeck, MachineCall, MachineCallResult
from praxis_plrbridge.codec import Json, decode
from praxis_plrbridge.interface import abstract_properties, forwardable_methods

B = TypeVar("B", bound=type[MachineBackend])


class CallTransport(Protocol):
    """Carries one machine call to its bench and brings the answer back (NATS request/reply, or in-process)."""

    async def call(self, call: MachineCall) -> MachineCallResult: ...


class BenchTransport(CallTransport, Protocol):
    """Everything a run needs from its benches."""

    async def describe(self, bench_id: str) -> BenchDescription: ...

    async def load_run_deck(self, cmd: LoadRunDeck) -> Ack: ...

    async def end_run(self, cmd: EndRun) -> Ack: ...


class CallSink(Protocol):
    """Where proxies send calls: the run's dispatcher (sequence, control, journal, transport)."""

    async def dispatch(self, bench_id: str, machine: str, method: str, kwargs: dict[str, Any]) -> Any: ...


class BenchUnreachable(TimeoutError):
    """A bench gave no answer for longer than it may stay silent: it may or may not have performed the call."""


class MachineCallError(RuntimeError):
    """The agent performed (or refused) the call and it failed; raised in the protocol where the call was made."""

    def __init__(self, *, bench_id: str, machine: str, method: str, sequence: int, error_type: str, error: str) -> None:
        self.bench_id, self.machine, self.method, self.sequence = bench_id, machine, method, sequence
        self.error_type, self.error = error_type, error
        super().__init__(f"{machine}.{method} (call {sequence}) failed on bench {bench_id}: {error_type}: {error}")


class MachineCallNotImplemented(MachineCallError, NotImplementedError):
    """The device's backend does not implement the method; PLR frontends catch NotImplementedError to fall back."""


def call_error(call: MachineCall, result: MachineCallResult) -> MachineCallError:
    cls = MachineCallNotImplemented if result.error_type == "NotImplementedError" else MachineCallError
    return cls(
        bench_id=call.bench_id,
        machine=call.machine,
        method=call.method,
        sequence=call.sequence,
        error_type=result.error_type or "Error",
        error=result.error or "",
    )


@dataclass(frozen=True)
class ProxyTarget:
    bench_id: str
    machine: str
    sink: CallSink

    async def call(self, method: str, kwargs: dict[str, Any]) -> Any:
        return await self.sink.dispatch(self.bench_id, self.machine, method, kwargs)


class ProxyBackend(MachineBackend):  # type: ignore[misc]  # PLR ships no type information
    """Base of every proxy: holds the target and the remote backend's ``serialize()`` and property values."""

    def __init__(
        self, target: ProxyTarget, *, remote: dict[str, Any] | None = None, properties: dict[str, Json] | None = None
    ) -> None:
        super().__init__()
        self.target = target
        self.remote = dict(remote or {})
        self.properties = {k: decode(v) for k, v in (properties or {}).items()}

    async def setup(self) -> None:
        """Local only: the agent's device is already set up."""

    async def stop(self) -> None:
        """Local only: the device stays set up for the next run."""

    def serialize(self) -> dict[str, Any]:
        """The remote backend's ``serialize()``, so ``frontend.serialize()`` here equals the agent's."""
        return dict(self.remote) or {"type": type(self).__name__}

    def remote_property(self, name: str) -> Any:
        try:
            return self.properties[name]
        except KeyError:
            raise NotImplementedError(
                f"the bench did not report {name!r} for machine {self.target.machine!r}"
            ) from None


def _forwarder(name: str, template: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """A method with ``template``'s signature that sends its arguments, by name, to the proxy's target."""
    sig = inspect.signature(template)

    async def forward(self: ProxyBackend, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        call_kwargs: dict[str, Any] = {}
        for pname, value in list(bound.arguments.items())[1:]:
            kind = sig.parameters[pname].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                call_kwargs.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{name}: positional *{pname} cannot be forwarded by name")
            else:
                call_kwargs[pname] = value
        return await self.target.call(name, call_kwargs)

    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = template.__doc__
    forward.__signature__ = sig  # type: ignore[attr-defined]
    return forward


def _remote_property(name: str) -> property:
    def get(self: ProxyBackend) -> Any:
        return self.remote_property(name)

    return property(get)


def _unavailable(name: str) -> Callable[..., Any]:
    def unavailable(self: ProxyBackend, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} is synchronous and cannot be asked of a remote machine")

    unavailable.__name__ = name
    return unavailable


def forwarding(interface: type[MachineBackend]) -> Callable[[B], B]:
    """Class decorator: implement what ``cls`` leaves open of ``interface`` by forwarding or remote properties."""

    def decorate(cls: B) -> B:
        own = {name for klass in cls.__mro__ if klass not in interface.__mro__ for name in vars(klass)}
        for name in forwardable_methods(interface):
            if name not in own:
                setattr(cls, name, _forwarder(name, getattr(interface, name)))
                own.add(name)
        for name in abstract_properties(interface):
            if name not in own:
                setattr(cls, name, _remote_property(name))
                own.add(name)
        for name in getattr(cls, "__abstractmethods__", ()):
            if name not in own:
                setattr(cls, name, _unavailable(name))
        abc.update_abstractmethods(cls)
        return cls

    return decorate


@forwarding(LiquidHandlerBackend)
class LiquidHandlerProxyBackend(ProxyBackend, LiquidHandlerBackend):  # type: ignore[misc]
    """A liquid handler's backend on the worker; channel count, 96 head and arms come from the agent."""

    def __init__(
        self, target: ProxyTarget, *, remote: dict[str, Any] | None = None, properties: dict[str, Json] | None = None
    ) -> None:
        super().__init__(target, remote=remote, properties=properties)
        self._num_channels = int(self.properties.get("num_channels") or (remote or {}).get("num_channels") or 1)
        self._head96_installed = self.properties.get("head96_installed")
        self._num_arms = int(self.properties.get("num_arms") or 0)

    @property
    def num_channels(self) -> int:
        return self._num_channels

    async def setup(self) -> None:
        await LiquidHandlerBackend.setup(self)  # checks the deck is set; no device involved

    def can_pick_up_tip(self, channel_idx: int, tip: Tip) -> bool:
        """Always yes here: the agent's backend makes the real decision and fails the call if it must."""
        return True


_PROXY_CLASSES: dict[type[Any], type[ProxyBackend]] = {LiquidHandlerBackend: LiquidHandlerProxyBackend}


def proxy_backend_class(interface: type[MachineBackend]) -> type[ProxyBackend]:
    """The proxy class for a backend interface (generated once per interface and process)."""
    if issubclass(interface, LiquidHandlerBackend):
        return LiquidHandlerProxyBackend
    if interface not in _PROXY_CLASSES:
        cls = type(f"Praxis{interface.__name__}Proxy", (ProxyBackend, interface), {"__module__": __name__})
        _PROXY_CLASSES[interface] = forwarding(interface)(cls)
    return _PROXY_CLASSES[interface]
