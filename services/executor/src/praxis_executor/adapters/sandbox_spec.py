"""What one sandboxed worker is given, as the executor writes it and its launcher and confinement hook read it.

The spec travels on the launcher's command line and then in the worker's environment, never in a file of the
run directory: the worker owns that directory, and a spec it could rewrite would be read by the next launcher,
which runs as root. Everything here is pure (JSON in and out, the mount plan), so it is unit-tested as such.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

ENV_VAR = "PRAXIS_WORKER_SANDBOX"
"""How the launcher hands the spec to the worker's confinement hook (which removes it from the environment)."""
NATS_DEFAULT_PORT = 4222


class SpecError(ValueError):
    """A spec that is not what the executor writes: the launcher refuses to start anything with it."""


@dataclass(frozen=True)
class Limits:
    cpu_s: int
    address_space_bytes: int
    open_files: int
    processes: int
    output_bytes: int


@dataclass(frozen=True)
class MountPlan:
    """A private mount namespace: ``overlays`` get an empty tmpfs each (what was there is hidden), then ``binds``
    (path, writable) are bound back at the same path from the original tree."""

    overlays: tuple[str, ...] = ()
    binds: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True)
class LaunchSpec:
    """One worker's confinement. A ``None``/``False`` field is a layer not applied (the probe found it missing)."""

    run_dir: str
    parent_pid: int
    uid: int | None = None
    gid: int | None = None
    mounts: MountPlan | None = None
    limits: Limits | None = None
    landlock: bool = False
    connect_ports: tuple[int, ...] | None = None
    """The only TCP ports the worker may connect to (None: TCP is not restricted, the layer is missing)."""
    seccomp: bool = False
    probe: bool = False
    """Probe mode: a failing layer is recorded (for the probe's report) instead of stopping the launch."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        try:
            raw = json.loads(text)
            mounts, limits, ports = raw.pop("mounts"), raw.pop("limits"), raw.pop("connect_ports")
            return cls(
                mounts=None
                if mounts is None
                else MountPlan(
                    overlays=tuple(str(p) for p in mounts["overlays"]),
                    binds=tuple((str(p), bool(w)) for p, w in mounts["binds"]),
                ),
                limits=None if limits is None else Limits(**{k: int(v) for k, v in limits.items()}),
                connect_ports=None if ports is None else tuple(int(p) for p in ports),
                **raw,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpecError(f"not a sandbox spec: {exc}") from exc


def nats_ports(url: str) -> tuple[int, ...]:
    """The TCP ports of every server in a NATS URL (``nats://a:4222,nats://b:4223``): what Landlock lets a worker
    connect to. It is by port, not by address: Landlock (ABI 7) has no address rules."""
    ports: list[int] = []
    for part in url.split(","):
        part = part.strip()
        if not part:
            continue
        parsed = urlsplit(part if "://" in part else f"nats://{part}")
        try:
            port = parsed.port or NATS_DEFAULT_PORT
        except ValueError as exc:
            raise SpecError(f"bad NATS URL {part!r}: {exc}") from exc
        if port not in ports:
            ports.append(port)
    if not ports:
        raise SpecError(f"no server in the NATS URL {url!r}")
    return tuple(ports)


Mode = tuple[int, int, int]  # st_mode, st_uid, st_gid


def traversable(mode: Mode, uid: int, gid: int) -> bool:
    """Whether a directory with this mode/owner lets ``uid``/``gid`` (no supplementary groups) pass through it."""
    st_mode, owner, group = mode
    if uid == owner:
        return bool(st_mode & stat.S_IXUSR)
    if gid == group:
        return bool(st_mode & stat.S_IXGRP)
    return bool(st_mode & stat.S_IXOTH)


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a", "/a/b"]`` (not ``/`` and not the path itself)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> list[str]:
    kept: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(_within(path, k) for k in kept):
            kept.append(path)
    return kept


def plan_mounts(
    read: Iterable[str],
    run_dir: str,
    hide: Iterable[str],
    uid: int,
    gid: int,
    mode_of: Callable[[str], Mode | None],
) -> MountPlan:
    """Where to lay empty tmpfs mounts and what to bind back, so that the worker (``uid``/``gid``) reaches every
    path of ``read`` (read-only) and its ``run_dir`` (writable), and nothing of ``hide`` or of its run directory's
    siblings (other runs). A directory on the way that the worker could not pass (``/root`` is 0700) is replaced
    by an overlay too. ``mode_of`` is ``os.stat`` reduced to :data:`Mode` (None: no such directory), so the plan is
    computed without touching the filesystem in tests. Hidden paths inside a needed tree are left alone."""
    needed = [(p, False) for p in _outermost(read) if not _within(run_dir, p)] + [(run_dir, True)]
    candidates = [os.path.dirname(run_dir), *hide]
    for path, _ in needed:
        for ancestor in _ancestors(path):
            mode = mode_of(ancestor)
            if mode is not None and not traversable(mode, uid, gid):
                candidates.append(ancestor)
                break
    overlays = [
        c
        for c in _outermost(c for c in candidates if c != "/" and mode_of(c) is not None)
        if not any(_within(c, p) for p, _ in needed)
    ]
    binds = tuple((p, w) for p, w in needed if any(_within(p, o) and p != o for o in overlays))
    return MountPlan(overlays=tuple(overlays), binds=binds)
