"""``mint_worker_credentials``: what the executor gets, and a clear error for every bad argument."""

from __future__ import annotations

from pathlib import Path

import pytest

from praxis_natsauth import init_dir, mint_worker_credentials, parse_creds, worker_inbox_prefix
from praxis_natsauth.jwt import decode


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> str:
    root: Path = tmp_path_factory.mktemp("auth")
    init_dir(root)
    return (root / "worker-signer.nk").read_text()


def test_a_worker_creds_names_its_run_and_benches_and_expires(signer: str) -> None:
    creds = parse_creds(mint_worker_credentials(signer, "abc123", ["b1", "b2", "b1"], 90.5, now=1000.0))
    claims = decode(creds.jwt)
    assert creds.name == "abc123" and creds.expires_at == 1091
    nats = claims["nats"]
    assert isinstance(nats, dict)
    assert nats["tags"] == ["bench:b1", "bench:b2"]
    assert "pub" not in nats and "subs" not in nats  # a scoped signer's template decides; the server insists
    assert nats["issuer_account"] != claims["iss"]
    assert worker_inbox_prefix("abc123") == "_INBOX_abc123"


@pytest.mark.parametrize(
    ("run_id", "benches", "expires", "error"),
    [
        ("a.b", ["b1"], 60, "run id 'a.b' must be one subject token"),
        ("gateway", ["b1"], 60, "name of a Praxis identity"),
        ("r1", [], 60, "at least one bench"),
        ("r1", ["b>"], 60, "bench id 'b>' must be one subject token"),
        ("r1", ["b1"], 0, "expires_in_s must be positive"),
    ],
)
def test_bad_arguments_are_refused(signer: str, run_id: str, benches: list[str], expires: float, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        mint_worker_credentials(signer, run_id, benches, expires)


def test_a_seed_that_is_not_the_signer_file_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Praxis worker signer"):
        mint_worker_credentials("SAXYZ", "r1", ["b1"], 60)
