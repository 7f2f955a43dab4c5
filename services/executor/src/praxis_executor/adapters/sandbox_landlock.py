"""Landlock through its three system calls (ctypes): which paths a process may use, which TCP ports it may connect to.

A ruleset only ever takes rights away, is inherited by every child and survives ``execve``: once
:func:`restrict_self` returned, nothing the process (or what it runs) does can widen it again. Every right the
running kernel knows is *handled* (denied unless a rule allows it), so an access this module has not thought of
is refused, not allowed. Rights the kernel does not know yet are reported by :func:`abi_version`, never guessed.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

SYS_CREATE_RULESET = 444  # the same numbers on every architecture (new system calls share one table)
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2

# filesystem rights (the ABI that introduced them in the comments)
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only rights a rule on a file (not a directory) may carry."""

# network rights (ABI 4) and scopes (ABI 6)
BIND_TCP = 1 << 0
CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE
WORK = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SYM | MAKE_FIFO | REFER | TRUNCATE
"""What a worker may do in its own run directory: everything but executing, devices and sockets."""


class LandlockError(OSError):
    """Landlock is missing, or refused a ruleset or rule (``errno`` says why)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _call(number: int, *args: object) -> int:
    result = int(_libc().syscall(ctypes.c_long(number), *args))
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, os.strerror(err))
    return result


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is not built in or not enabled at boot."""
    try:
        return _call(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except LandlockError:
        return 0


def fs_rights(abi: int) -> int:
    """Every filesystem right the ABI knows: all of them are handled, so all are denied unless allowed."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


@dataclass(frozen=True)
class PathRule:
    path: str
    access: int


@dataclass(frozen=True)
class Ruleset:
    """What a process keeps: ``paths`` (a path and the rights beneath it; None: files are not restricted at all),
    TCP ``connect_ports`` (None: TCP is not restricted at all), and whether signals and abstract unix sockets stay
    within the process's own domain."""

    paths: tuple[PathRule, ...] | None
    connect_ports: tuple[int, ...] | None
    scoped: bool


def restrict_self(ruleset: Ruleset, abi: int) -> list[str]:
    """Apply ``ruleset`` to this process for good (needs ``PR_SET_NO_NEW_PRIVS`` or CAP_SYS_ADMIN).

    Returns the paths that were skipped because they do not exist. Raises :class:`LandlockError` if the kernel
    cannot enforce what was asked (no Landlock, TCP rules before ABI 4, scopes before ABI 6): a ruleset is
    never silently weakened.
    """
    if abi < 1:
        raise LandlockError(0, "Landlock is not available in this kernel")
    if ruleset.connect_ports is not None and abi < 4:
        raise LandlockError(0, f"Landlock ABI {abi} has no TCP rules (ABI 4, Linux 6.7, needed)")
    if ruleset.scoped and abi < 6:
        raise LandlockError(0, f"Landlock ABI {abi} cannot scope signals (ABI 6, Linux 6.12, needed)")
    handled = fs_rights(abi) if ruleset.paths is not None else 0
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=(BIND_TCP | CONNECT_TCP) if ruleset.connect_ports is not None else 0,
        scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if ruleset.scoped else 0,
    )
    size = ctypes.sizeof(attr) if ruleset.scoped else 16 if ruleset.connect_ports is not None else 8
    fd = _call(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        skipped = _add_paths(fd, ruleset.paths or (), handled)
        for port in ruleset.connect_ports or ():
            rule = _NetPortAttr(allowed_access=CONNECT_TCP, port=port)
            _call(SYS_ADD_RULE, fd, RULE_NET_PORT, ctypes.byref(rule), ctypes.c_uint32(0))
        _call(SYS_RESTRICT_SELF, fd, ctypes.c_uint32(0))
    finally:
        os.close(fd)
    return skipped


def _add_paths(ruleset_fd: int, rules: Iterable[PathRule], handled: int) -> list[str]:
    skipped: list[str] = []
    for rule in rules:
        try:
            fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            skipped.append(rule.path)
            continue
        try:
            is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
            access = rule.access & handled & (~0 if is_dir else FILE_RIGHTS)
            attr = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
            _call(SYS_ADD_RULE, ruleset_fd, RULE_PATH_BENEATH, ctypes.byref(attr), ctypes.c_uint32(0))
        finally:
            os.close(fd)
    return skipped
