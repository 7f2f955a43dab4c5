"""The launch spec (JSON both ways, bad input refused), NATS ports, and the mount plan on a made-up filesystem."""

from __future__ import annotations

import stat

import pytest

from praxis_executor.adapters.sandbox_spec import (
    LaunchSpec,
    Limits,
    Mode,
    MountPlan,
    SpecError,
    nats_ports,
    plan_mounts,
    traversable,
)

UID, GID = 999, 995
DIR = stat.S_IFDIR


def test_a_spec_survives_json() -> None:
    spec = LaunchSpec(
        run_dir="/w/run-1",
        parent_pid=42,
        uid=UID,
        gid=GID,
        mounts=MountPlan(overlays=("/root", "/w"), binds=(("/root/py", False), ("/w/run-1", True))),
        limits=Limits(cpu_s=1, address_space_bytes=2, open_files=3, processes=4, output_bytes=5),
        landlock=True,
        connect_ports=(4222, 4223),
        seccomp=True,
    )
    assert LaunchSpec.from_json(spec.to_json()) == spec
    bare = LaunchSpec(run_dir="/w/run-1", parent_pid=42)
    assert LaunchSpec.from_json(bare.to_json()) == bare


@pytest.mark.parametrize("text", ["", "[]", '{"run_dir": "/w"}', '{"mounts": {}, "limits": null, "connect_ports": 1}'])
def test_anything_else_is_refused_with_a_clear_error(text: str) -> None:
    with pytest.raises(SpecError, match="not a sandbox spec"):
        LaunchSpec.from_json(text)


@pytest.mark.parametrize(
    ("url", "ports"),
    [
        ("nats://127.0.0.1:4322", (4322,)),
        ("nats://nats", (4222,)),
        ("tls://a:4443,nats://b:4444, nats://c:4443", (4443, 4444)),
        ("127.0.0.1:5000", (5000,)),
    ],
)
def test_nats_ports(url: str, ports: tuple[int, ...]) -> None:
    assert nats_ports(url) == ports


@pytest.mark.parametrize("url", ["", " , ", "nats://a:notaport"])
def test_a_nats_url_without_a_usable_port_is_an_error(url: str) -> None:
    with pytest.raises(SpecError):
        nats_ports(url)


@pytest.mark.parametrize(
    ("mode", "uid", "gid", "passes"),
    [
        ((DIR | 0o755, 0, 0), UID, GID, True),
        ((DIR | 0o700, 0, 0), UID, GID, False),
        ((DIR | 0o700, UID, 0), UID, GID, True),
        ((DIR | 0o710, 0, GID), UID, GID, True),
        ((DIR | 0o701, 0, GID), UID, GID, False),  # the group's bits decide for a member, not the others'
        ((DIR | 0o754, 0, 0), UID, GID, False),
    ],
)
def test_traversable(mode: Mode, uid: int, gid: int, passes: bool) -> None:
    assert traversable(mode, uid, gid) is passes


def fake_fs(dirs: dict[str, int]) -> dict[str, Mode]:
    """path -> permission bits of a root-owned directory."""
    return {path: (DIR | bits, 0, 0) for path, bits in dirs.items()}


HOST = fake_fs(
    {
        "/root": 0o700,
        "/root/.pyenv": 0o755,
        "/root/.pyenv/versions": 0o755,
        "/root/.pyenv/versions/3.11": 0o755,
        "/root/.pyenv/versions/3.11/lib": 0o755,
        "/work": 0o755,
        "/work/main": 0o755,
        "/work/main/.venv": 0o755,
        "/work/main/libs/contracts/src": 0o755,
        "/tmp": 0o1777,
        "/tmp/pytest-of-root": 0o700,
        "/tmp/pytest-of-root/t": 0o755,
        "/tmp/pytest-of-root/t/executor": 0o755,
        "/tmp/pytest-of-root/t/executor/run-1": 0o700,
        "/srv": 0o755,
        "/srv/praxis": 0o755,
        "/srv/praxis/work": 0o755,
        "/srv/praxis/work/run-1": 0o700,
        "/home": 0o755,
    }
)
READ = [
    "/root/.pyenv/versions/3.11",
    "/root/.pyenv/versions/3.11/lib",
    "/work/main/.venv",
    "/work/main/libs/contracts/src",
]


def test_the_interpreter_under_root_is_bound_back_and_the_rest_hidden() -> None:
    plan = plan_mounts(READ, "/srv/praxis/work/run-1", ["/root", "/home", "/nonexistent"], UID, GID, HOST.get)
    assert plan.overlays == ("/home", "/root", "/srv/praxis/work")  # the run's siblings too; no missing path
    assert plan.binds == (("/root/.pyenv/versions/3.11", False), ("/srv/praxis/work/run-1", True))


def test_a_run_directory_under_a_closed_temp_dir_is_reached_through_the_overlay_of_tmp() -> None:
    plan = plan_mounts(READ, "/tmp/pytest-of-root/t/executor/run-1", ["/tmp"], UID, GID, HOST.get)
    assert plan.overlays == ("/root", "/tmp")  # /root: it cannot be passed; the work dir is inside /tmp's overlay
    assert ("/tmp/pytest-of-root/t/executor/run-1", True) in plan.binds


def test_with_nothing_to_hide_and_everything_reachable_only_the_siblings_are_hidden() -> None:
    plan = plan_mounts(["/work/main/.venv"], "/srv/praxis/work/run-1", [], UID, GID, HOST.get)
    assert plan == MountPlan(overlays=("/srv/praxis/work",), binds=(("/srv/praxis/work/run-1", True),))


def test_a_hidden_path_inside_a_needed_tree_is_left_alone() -> None:
    plan = plan_mounts(READ, "/srv/praxis/work/run-1", ["/work/main/.venv"], UID, GID, HOST.get)
    assert "/work/main/.venv" not in plan.overlays
