"""The worker's Landlock ruleset, built from its sys.path, and the executor's report of the sandbox."""

from __future__ import annotations

from pathlib import Path

from praxis_executor.adapters import sandbox_landlock as landlock
from praxis_executor.adapters.sandbox import Options, Sandbox
from praxis_executor.adapters.sandbox_confine import python_trees, ruleset
from praxis_executor.adapters.sandbox_policy import LAYERS, SandboxReport
from praxis_executor.adapters.sandbox_spec import LaunchSpec, Limits

SPEC = LaunchSpec(run_dir="/w/executor/run-1", parent_pid=1, landlock=True, connect_ports=(4222,))
TREES = ["/opt/py", "/work/main/.venv", "/work/main/libs/contracts/src"]


def rules_of(rs: landlock.Ruleset) -> dict[str, int]:
    assert rs.paths is not None
    return {r.path: r.access for r in rs.paths}


def test_python_trees_skip_the_cwd_entry_and_root_and_resolve_relative_ones(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    trees = python_trees(["", "lib", "/", str(tmp_path / "lib")], [str(tmp_path)], cwd=str(tmp_path))
    assert trees == [str(tmp_path), str(tmp_path / "lib")]


def test_the_worker_reads_its_trees_and_the_system_and_works_only_in_its_run_dir() -> None:
    rs = ruleset(SPEC, TREES, fs=True, ports=(4222,), scoped=True, realpath=lambda p: p)
    rules = rules_of(rs)
    for tree in [*TREES, "/usr", "/lib"]:
        assert rules[tree] == landlock.READ_EXEC
    assert rules["/etc"] == landlock.READ  # read, never execute
    assert rules["/w/executor/run-1"] == landlock.WORK
    assert not landlock.WORK & landlock.EXECUTE and not landlock.WORK & landlock.MAKE_SOCK
    assert rules["/dev/null"] & landlock.WRITE_FILE and rules["/dev/urandom"] == landlock.READ_FILE
    assert "/work/main" not in rules and "/w/executor" not in rules and "/proc" not in rules
    assert [r for r in rules if r.startswith("/home") or r.startswith("/tmp")] == []
    assert rs.connect_ports == (4222,) and rs.scoped


def test_a_resolv_conf_that_links_elsewhere_stays_readable() -> None:
    stub = "/run/systemd/resolve/stub-resolv.conf"
    links = {"/etc/resolv.conf": stub}
    rules = rules_of(ruleset(SPEC, TREES, fs=True, ports=None, scoped=False, realpath=lambda p: links.get(p, p)))
    assert rules[stub] == landlock.READ_FILE


def test_without_the_fs_layer_files_are_not_handled_at_all() -> None:
    rs = ruleset(SPEC, TREES, fs=False, ports=(4222,), scoped=False)
    assert rs.paths is None and rs.connect_ports == (4222,)


def options() -> Options:
    return Options(
        user="praxis-worker",
        uid=None,
        gid=None,
        hide=("/root",),
        limits=Limits(cpu_s=1, address_space_bytes=2, open_files=3, processes=4, output_bytes=5),
        connect_ports=(4222,),
        work_dir=Path("/w/executor"),
        allow_unsandboxed=False,
    )


def test_health_names_the_active_layers_and_why_the_others_are_missing() -> None:
    report = SandboxReport(
        active={k: "on" for k in LAYERS if k != "landlock-net"}, missing={"landlock-net": "Landlock ABI 3"}
    )
    sandbox = Sandbox(options(), report)
    assert sandbox.health() == {
        "sandbox": "uid,landlock-fs,seccomp,rlimits",
        "sandbox_missing": "landlock-net (Landlock ABI 3)",
    }
    assert "landlock-net MISSING  Landlock ABI 3" in sandbox.describe()
    assert not sandbox.verdict("scientist").allowed and sandbox.verdict("admin").allowed


def test_a_worker_spec_carries_only_the_active_layers() -> None:
    report = SandboxReport(active={"seccomp": "on"}, missing={k: "no" for k in LAYERS if k != "seccomp"})
    spec = Sandbox(options(), report).spec_for(Path("/w/executor/run-1"))
    assert spec.seccomp and not spec.landlock and spec.connect_ports is None
    assert spec.uid is None and spec.mounts is None and spec.limits is None and not spec.probe
