"""A service connects with its own NATS credentials; a server that refuses them stops start-up with one clear line;
an agent's credentials pass the stream check once the services have set the streams up."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from praxis_natsauth import init_dir
from praxis_natsauth.authdir import AuthDir
from praxis_servicekit.bus import NatsCredentialsError, StreamSetupError, connect, ensure_streams
from praxis_servicekit.service import ServiceContext, ServiceSpec, StartupError, Wiring, run_service
from praxis_servicekit.settings import ServiceSettings
from praxis_testkit.plugin import SecuredNats
from praxis_testkit.servers import NatsServer

pytestmark = pytest.mark.integration


async def test_a_service_connects_as_its_identity_and_takes_replies_on_its_own_inbox(
    secured_nats: SecuredNats,
) -> None:
    nc = await connect(secured_nats.url, "praxis-scheduler-test", creds=secured_nats.creds("scheduler"))
    try:
        assert nc._inbox_prefix == b"_INBOX_scheduler"
        await ensure_streams(nc.jetstream())  # JetStream answers on _INBOX_scheduler: nothing else is allowed
    finally:
        await nc.close()


async def test_credentials_the_server_does_not_trust_fail_at_once_with_one_line(
    secured_nats: SecuredNats, tmp_path: Path
) -> None:
    init_dir(tmp_path)  # another operator: a well-formed file this server refuses
    foreign = AuthDir(tmp_path).creds("scheduler")
    with pytest.raises(NatsCredentialsError) as refused:
        await asyncio.wait_for(connect(secured_nats.url, "x", creds=foreign), 30)
    assert str(refused.value) == f"NATS refused the credentials of scheduler ({foreign}): Authorization Violation"

    with pytest.raises(NatsCredentialsError, match="NATS refused the connection without credentials"):
        await asyncio.wait_for(connect(secured_nats.url, "x"), 30)


async def test_an_unusable_creds_file_is_named(tmp_path: Path, secured_nats: SecuredNats) -> None:
    with pytest.raises(NatsCredentialsError, match=r"cannot read the NATS credentials file .*missing\.creds"):
        await connect(secured_nats.url, "x", creds=tmp_path / "missing.creds")
    bad = tmp_path / "bad.creds"
    bad.write_text("not a creds file\n")
    with pytest.raises(NatsCredentialsError, match=r"bad\.creds is not a NATS creds file"):
        await connect(secured_nats.url, "x", creds=bad)


async def test_a_refused_service_stops_starting_with_a_startup_error(secured_nats: SecuredNats, tmp_path: Path) -> None:
    init_dir(tmp_path)
    settings = ServiceSettings(nats_url=secured_nats.url, nats_creds=AuthDir(tmp_path).creds("discovery"))

    async def wire(_: ServiceContext) -> Wiring:
        return Wiring()

    with pytest.raises(StartupError, match=r"^NATS refused the credentials of discovery \("):
        await asyncio.wait_for(run_service(ServiceSpec("discovery", "1", settings, wire)), 30)


async def test_an_agent_checks_the_streams_but_cannot_create_them(tmp_path: Path) -> None:
    d = AuthDir(tmp_path / "auth")
    init_dir(d.root, ["b1"])
    with NatsServer(auth_config=d.auth_config, log_file=tmp_path / "nats.log") as server:
        agent = await connect(server.url, "agent", creds=d.creds("agent-b1"))
        try:
            with pytest.raises(StreamSetupError, match="create of stream PRAXIS_DISCOVERY_EVT"):
                await ensure_streams(agent.jetstream(timeout=1))  # no service has created them yet
            service = await connect(server.url, "executor", creds=d.creds("executor"))
            await ensure_streams(service.jetstream())
            await service.close()
            await ensure_streams(agent.jetstream(timeout=5))  # now they exist and match: looking them up is enough
        finally:
            await agent.close()


def test_the_prefixed_creds_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    class SchedulerSettings(ServiceSettings):
        model_config = ServiceSettings.model_config | {"env_prefix": "PRAXIS_SCHEDULER_"}

    monkeypatch.delenv("PRAXIS_NATS_CREDS", raising=False)
    monkeypatch.delenv("PRAXIS_SCHEDULER_NATS_CREDS", raising=False)
    assert SchedulerSettings().nats_creds is None  # no credentials: today's unauthenticated connection
    monkeypatch.setenv("PRAXIS_NATS_CREDS", "/shared.creds")
    assert SchedulerSettings().nats_creds == Path("/shared.creds")
    assert ServiceSettings().nats_creds == Path("/shared.creds")
    monkeypatch.setenv("PRAXIS_SCHEDULER_NATS_CREDS", "/scheduler.creds")
    assert SchedulerSettings().nats_creds == Path("/scheduler.creds")
    monkeypatch.setenv("PRAXIS_SCHEDULER_NATS_CREDS", "")
    assert SchedulerSettings().nats_creds == Path("/shared.creds")
