"""``init_dir`` / ``add_bench``: the whole set, idempotent, secrets private; ``rotate`` revokes what it replaces."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nats
import pytest
from nats.aio.client import RawCredentials

from praxis_contracts.permissions import SERVICES
from praxis_natsauth import AuthDir, AuthDirError, add_bench, init_dir, read_creds
from praxis_natsauth.jwt import decode
from praxis_testkit.servers import NatsServer


def _seeds(d: AuthDir) -> dict[str, str]:
    paths = [d.operator_seed, d.account_seed("SYS"), d.account_seed("PRAXIS"), d.worker_signer]
    seeds = {str(p): p.read_text() for p in paths}
    seeds.update({str(p): read_creds(p).user.seed for p in sorted(d.root.glob("creds/*.creds"))})
    return seeds


def test_init_writes_every_identity_and_keeps_its_keys_when_run_again(tmp_path: Path) -> None:
    d = AuthDir(tmp_path / "auth")
    report = init_dir(d.root, ["bench-a"])
    for identity in [*SERVICES, "agent-bench-a"]:
        creds = read_creds(d.creds(identity))
        assert creds.name == identity
        assert stat.S_IMODE(d.creds(identity).stat().st_mode) == 0o600
    for secret in (d.operator_seed, d.account_seed("PRAXIS"), d.worker_signer):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert report.env["executor"] == {
        "PRAXIS_EXECUTOR_NATS_CREDS": str(d.creds("executor")),
        "PRAXIS_EXECUTOR_WORKER_SIGNER": str(d.worker_signer),
    }
    assert report.env["agent-bench-a"] == {"PRAXIS_AGENT_NATS_CREDS": str(d.creds("agent-bench-a"))}
    assert "resolver: MEMORY" in d.auth_config.read_text() and "jetstream" in d.server_config.read_text()

    before = _seeds(d)
    again = init_dir(d.root)  # the agent already there is kept without naming it
    assert _seeds(d) == before
    assert not [path for path, what in again.written if what == "new key"]


def test_add_bench_issues_one_agent_in_an_initialised_dir_only(tmp_path: Path) -> None:
    with pytest.raises(AuthDirError, match="nats-init"):
        add_bench(tmp_path, "bench-b")
    init_dir(tmp_path)
    report = add_bench(tmp_path, "bench-b")
    assert [path.name for path, _ in report.written] == ["agent-bench-b.creds"]
    assert AuthDir(tmp_path).agents() == ["bench-b"]
    with pytest.raises(ValueError, match="one subject token"):
        add_bench(tmp_path, "bench.b")


def test_rotate_replaces_user_keys_and_the_signer_and_revokes_the_old_users(tmp_path: Path) -> None:
    d = AuthDir(tmp_path)
    init_dir(d.root, ["bench-a"])
    before = _seeds(d)
    old_user = read_creds(d.creds("scheduler")).user.public_key
    init_dir(d.root, rotate=True)
    after = _seeds(d)
    for kept in (d.operator_seed, d.account_seed("PRAXIS")):  # JetStream keeps streams under the account key
        assert after[str(kept)] == before[str(kept)]
    for replaced in (d.worker_signer, d.creds("scheduler"), d.creds("agent-bench-a")):
        assert after[str(replaced)] != before[str(replaced)]
    assert old_user in json.loads(d.revoked.read_text())
    revocations = decode(d.account_jwt("PRAXIS").read_text())["nats"]["revocations"]  # type: ignore[index]
    assert old_user in revocations


@pytest.mark.integration
async def test_a_server_restarted_after_rotate_refuses_the_old_creds_and_accepts_the_new(tmp_path: Path) -> None:
    d = AuthDir(tmp_path)
    init_dir(d.root)
    old = d.creds("scheduler").read_text()
    init_dir(d.root, rotate=True)
    with NatsServer(auth_config=d.auth_config, log_file=tmp_path / "nats.log") as server:
        with pytest.raises(nats.errors.Error, match=r"(?i)authorization violation"):
            await nats.connect(server.url, user_credentials=RawCredentials(old), allow_reconnect=False)
        nc = await nats.connect(server.url, user_credentials=str(d.creds("scheduler")), allow_reconnect=False)
        await nc.close()
