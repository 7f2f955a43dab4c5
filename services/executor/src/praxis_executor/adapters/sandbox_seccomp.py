"""A seccomp filter for run workers: what Landlock (ABI 7) cannot refuse, refused by system call.

Landlock does not govern connecting to a *pathname* unix socket (a Postgres socket, a Docker socket): the worker
may only create sockets of the families ``AF_INET``, ``AF_INET6`` and ``AF_NETLINK`` (``socketpair`` stays allowed:
an unnamed pair reaches nothing outside the process). It also refuses the kernel interfaces a protocol never
needs and an escape would: new namespaces (an unprivileged user namespace is a root shell's worth of kernel
surface), io_uring (its operations bypass seccomp), ptrace and cross-process memory access, keyrings, bpf,
userfaultfd, perf events and mounting. Anything else is allowed: this is a denylist on top of Landlock, not a
syscall allowlist. A call of another ABI (x32, i386 from a 64-bit process) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket
from dataclasses import dataclass

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
LD_W_ABS = 0x20
JEQ_K = 0x15
JSET_K = 0x45
JGE_K = 0x35
RET_K = 0x06
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16
X32_SYSCALL_BIT = 0x40000000
NAMESPACE_FLAGS = 0x7E020000
"""CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (clone's low byte is the exit signal)."""
ALLOWED_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK)


REFUSED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace",
    "process_vm_readv", "process_vm_writev", "add_key", "request_key", "keyctl", "bpf", "userfaultfd",
    "perf_event_open", "kexec_load", "init_module", "finit_module",
)  # fmt: skip
"""System calls refused with EPERM, whatever their arguments."""


@dataclass(frozen=True)
class Arch:
    audit: int
    numbers: dict[str, int]

    def __getitem__(self, name: str) -> int:
        return self.numbers[name]


ARCHES = {
    "x86_64": Arch(0xC000003E, {
        "socket": 41, "clone": 56, "clone3": 435, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "add_key": 248,
        "request_key": 249, "keyctl": 250, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298,
        "kexec_load": 246, "init_module": 175, "finit_module": 313,
    }),
    "aarch64": Arch(0xC00000B7, {
        "socket": 198, "clone": 220, "clone3": 435, "unshare": 97, "setns": 268, "mount": 40, "umount2": 39,
        "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "add_key": 217,
        "request_key": 218, "keyctl": 219, "bpf": 280, "userfaultfd": 282, "perf_event_open": 241,
        "kexec_load": 104, "init_module": 105, "finit_module": 273,
    }),
}  # fmt: skip


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


Insn = tuple[int, int, int, int]


def program(arch: Arch) -> list[Insn]:
    """The filter as classic BPF, for ``arch``. Pure, so the program itself is unit-tested."""
    deny = RET_ERRNO | errno.EPERM
    refused: list[Insn] = []
    for name in REFUSED:
        refused += [(JEQ_K, 0, 1, arch[name]), (RET_K, 0, 0, deny)]
    families = [(JEQ_K, len(ALLOWED_FAMILIES) - i, 0, family) for i, family in enumerate(ALLOWED_FAMILIES)]
    return [
        (LD_W_ABS, 0, 0, OFFSET_ARCH),
        (JEQ_K, 1, 0, arch.audit),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_W_ABS, 0, 0, OFFSET_NR),
        (JGE_K, 0, 1, X32_SYSCALL_BIT),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        *refused,
        (JEQ_K, 0, 1, arch["clone3"]),
        (RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),  # its flags are behind a pointer: glibc falls back to clone
        (JEQ_K, 0, 3, arch["clone"]),
        (LD_W_ABS, 0, 0, OFFSET_ARG0),
        (JSET_K, 0, 1, NAMESPACE_FLAGS),
        (RET_K, 0, 0, deny),
        (LD_W_ABS, 0, 0, OFFSET_NR),
        (JEQ_K, 0, len(families) + 2, arch["socket"]),
        (LD_W_ABS, 0, 0, OFFSET_ARG0),
        *families,
        (RET_K, 0, 0, deny),
        (RET_K, 0, 0, RET_ALLOW),
    ]


def current_arch() -> Arch | None:
    return ARCHES.get(platform.machine())


def install() -> None:
    """Install the filter on this process (and everything it will start); needs ``PR_SET_NO_NEW_PRIVS``."""
    arch = current_arch()
    if arch is None:
        raise OSError(errno.ENOSYS, f"no seccomp filter for the {platform.machine()} architecture")
    insns = program(arch)
    filters = (_SockFilter * len(insns))(*(_SockFilter(*insn) for insn in insns))
    prog = _SockFprog(len(insns), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter refused: {errno.errorcode.get(err, err)}")
