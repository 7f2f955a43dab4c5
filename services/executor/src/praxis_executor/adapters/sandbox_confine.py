"""The worker's own confinement, applied by its ``__main__`` before the protocol's source is loaded.

What the worker may read is taken from its own ``sys.path`` (the interpreter, the virtualenv and each package
source directory: with editable installs these are ``libs/*/src`` and ``services/*/src``, never the checkout that
holds ``.devdata``), plus ``/usr``, ``/lib*``, ``/etc``, ``/dev/null`` and ``/dev/urandom``; it may write only in
its own run directory and connect over TCP only to the NATS port(s). Signals and abstract unix sockets stay
within its Landlock domain, and the seccomp filter refuses other socket families. The spec comes from the
launcher (:mod:`.sandbox_launch`) in the environment; without it (a worker started by hand or by a test) nothing
is applied. A spec that cannot be applied in full stops the worker: it never runs a protocol with less
isolation than the executor announced.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable, Iterable

from praxis_executor.adapters import sandbox_landlock as landlock
from praxis_executor.adapters import sandbox_seccomp as seccomp
from praxis_executor.adapters.sandbox_spec import ENV_VAR, LaunchSpec

SYSTEM_TREES = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin")
CONFIG_TREES = ("/etc",)
DEVICES = (
    ("/dev/null", landlock.READ_FILE | landlock.WRITE_FILE | landlock.TRUNCATE),
    ("/dev/urandom", landlock.READ_FILE),
)
NAME_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/localtime")
"""Files of /etc that are often symlinks elsewhere (systemd-resolved's resolv.conf): their targets stay readable."""
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 4, 38


class ConfinementError(RuntimeError):
    """A layer the spec asks for could not be applied."""


def python_trees(entries: Iterable[str], prefixes: Iterable[str], cwd: str) -> list[str]:
    """The directories (and zip files) the interpreter imports from, resolved; '' (the cwd) is not one of them."""
    trees: list[str] = []
    for entry in [*prefixes, *entries]:
        if not entry:
            continue
        path = os.path.realpath(os.path.join(cwd, entry))
        if path != "/" and path not in trees:
            trees.append(path)
    return trees


def ruleset(
    spec: LaunchSpec,
    trees: Iterable[str],
    *,
    fs: bool,
    ports: tuple[int, ...] | None,
    scoped: bool,
    realpath: Callable[[str], str] = os.path.realpath,
) -> landlock.Ruleset:
    """The worker's Landlock ruleset (pure but for resolving the name files' symlinks)."""
    rules: list[landlock.PathRule] = []
    if fs:
        rules += [landlock.PathRule(p, landlock.READ_EXEC) for p in [*SYSTEM_TREES, *trees]]
        rules += [landlock.PathRule(p, landlock.READ) for p in CONFIG_TREES]
        rules += [landlock.PathRule(p, access) for p, access in DEVICES]
        targets = {realpath(f) for f in NAME_FILES}
        rules += [landlock.PathRule(t, landlock.READ_FILE) for t in sorted(targets) if not t.startswith("/etc/")]
        rules.append(landlock.PathRule(spec.run_dir, landlock.WORK))
    return landlock.Ruleset(paths=tuple(rules) if fs else None, connect_ports=ports, scoped=scoped)


def confine(spec: LaunchSpec) -> dict[str, str]:
    """Apply ``spec`` to this process. Returns what failed in probe mode; otherwise raises on the first failure."""
    failed: dict[str, str] = {}

    def fail(layer: str, why: str) -> None:
        if not spec.probe:
            raise ConfinementError(f"{layer}: {why}")
        failed[layer] = why

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no same-user process reads its memory or environment
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("landlock-fs", "PR_SET_NO_NEW_PRIVS refused")
    if spec.uid is not None and (os.getuid() != spec.uid or os.geteuid() != spec.uid or os.geteuid() == 0):
        fail("uid", f"running as uid {os.geteuid()}, not {spec.uid}")
    if spec.limits is not None:  # Python ignores SIGXFSZ; the limit must end the worker with it, not raise EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    _landlock(spec, fail)
    if spec.seccomp:
        try:
            seccomp.install()
        except OSError as exc:
            fail("seccomp", str(exc))
    return failed


def _landlock(spec: LaunchSpec, fail: Callable[[str, str], None]) -> None:
    abi = landlock.abi_version()
    fs, ports = spec.landlock, spec.connect_ports
    if fs and abi < 1:
        fail("landlock-fs", "Landlock is not enabled in this kernel")
        fs = False
    if ports is not None and abi < 4:
        fail("landlock-net", f"Landlock ABI {abi} has no TCP rules (needs ABI 4, Linux 6.7)")
        ports = None
    if not fs and ports is None:
        return
    prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
    rules = ruleset(spec, python_trees(sys.path, prefixes, os.getcwd()), fs=fs, ports=ports, scoped=fs and abi >= 6)
    try:
        landlock.restrict_self(rules, abi)
    except OSError as exc:
        for layer in ("landlock-fs",) * fs + ("landlock-net",) * (ports is not None):
            fail(layer, str(exc))


def confine_from_environment() -> dict[str, str] | None:
    """The hook: confine as the launcher's spec says (and drop the spec from the environment); None: no spec."""
    text = os.environ.pop(ENV_VAR, None)
    if text is None:
        return None
    return confine(LaunchSpec.from_json(text))
