"""The seccomp program, run by a small classic-BPF interpreter on made-up system calls: what it allows, refuses
and kills, per architecture (the kernel's own verdicts are checked by the integration tests)."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from praxis_executor.adapters.sandbox_seccomp import (
    ARCHES,
    JEQ_K,
    JGE_K,
    JSET_K,
    LD_W_ABS,
    REFUSED,
    RET_ALLOW,
    RET_ERRNO,
    RET_K,
    RET_KILL_PROCESS,
    Arch,
    program,
)

EPERM = RET_ERRNO | errno.EPERM
CLONE_NEWUSER, CLONE_THREAD_FLAGS = 0x10000000, 0x003D0F00  # what pthread_create passes


def run(arch: Arch, nr: int, arg0: int = 0, audit: int | None = None) -> int:
    """Evaluate the filter on ``struct seccomp_data``; returns the action."""
    data = struct.pack("<iIQ6Q", nr, arch.audit if audit is None else audit, 0, arg0, 0, 0, 0, 0, 0)
    insns = program(arch)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == RET_K:
            return k
        else:
            taken = {JEQ_K: acc == k, JGE_K: acc >= k, JSET_K: bool(acc & k)}[code]
            pc += jt if taken else jf
        assert pc < len(insns), "ran off the end of the program"


@pytest.fixture(params=sorted(ARCHES))
def arch(request: pytest.FixtureRequest) -> Arch:
    return ARCHES[request.param]


def test_every_arch_names_every_refused_call(arch: Arch) -> None:
    assert set(REFUSED) | {"socket", "clone", "clone3"} == set(arch.numbers)
    assert len(set(arch.numbers.values())) == len(arch.numbers), "two calls share a number"


def test_only_inet_and_netlink_sockets(arch: Arch) -> None:
    assert run(arch, arch["socket"], socket.AF_INET) == RET_ALLOW
    assert run(arch, arch["socket"], socket.AF_INET6) == RET_ALLOW
    assert run(arch, arch["socket"], socket.AF_NETLINK) == RET_ALLOW
    assert run(arch, arch["socket"], socket.AF_UNIX) == EPERM
    assert run(arch, arch["socket"], 40) == EPERM  # AF_VSOCK
    assert run(arch, arch["socket"], 38) == EPERM  # AF_ALG


def test_threads_and_forks_yes_namespaces_no(arch: Arch) -> None:
    assert run(arch, arch["clone"], CLONE_THREAD_FLAGS) == RET_ALLOW
    assert run(arch, arch["clone"], 17) == RET_ALLOW  # fork(): SIGCHLD only
    assert run(arch, arch["clone"], 17 | CLONE_NEWUSER) == EPERM
    assert run(arch, arch["clone3"]) == RET_ERRNO | errno.ENOSYS  # glibc then uses clone


@pytest.mark.parametrize("name", REFUSED)
def test_refused_calls(arch: Arch, name: str) -> None:
    assert run(arch, arch[name]) == EPERM


def test_everything_else_is_allowed(arch: Arch) -> None:
    taken = set(arch.numbers.values())
    for nr in (n for n in range(0, 400) if n not in taken):
        assert run(arch, nr) == RET_ALLOW, nr


def test_another_abi_is_killed(arch: Arch) -> None:
    assert run(arch, 0, audit=0x40000003) == RET_KILL_PROCESS  # i386 from a 64-bit process
    assert run(arch, 0x40000000 | arch["socket"], socket.AF_UNIX) == RET_KILL_PROCESS  # x32
