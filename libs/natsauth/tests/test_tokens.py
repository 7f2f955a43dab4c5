"""Keys, JWTs and creds files: the formats the NATS server and clients read, and clear errors for bad input."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import nacl.signing
import pytest

from praxis_contracts.permissions import Grant
from praxis_natsauth.creds import InvalidCredentials, format_creds, parse_creds, read_creds, write_secret
from praxis_natsauth.jwt import NO_LIMIT, InvalidJwt, account_jwt, decode, operator_jwt, permissions, user_jwt
from praxis_natsauth.keys import InvalidKey, KeyKind, from_seed, new_key


def _verify(token: str, public_key: str) -> None:
    """Check the signature as the server does: ed25519 over ``header.claims`` by the issuer's public key."""
    raw = base64.b32decode(public_key + "=" * (-len(public_key) % 8))[1:-2]
    head, body, sig = token.split(".")
    nacl.signing.VerifyKey(raw).verify(f"{head}.{body}".encode(), base64.urlsafe_b64decode(sig + "=="))


def test_keys_round_trip_and_refuse_the_wrong_kind() -> None:
    for kind in KeyKind:
        key = new_key(kind)
        assert key.public_key.startswith(kind.letter) and key.seed.startswith("S" + kind.letter)
        assert from_seed(key.seed + "\n", kind).public_key == key.public_key
        assert key.seed not in repr(key)
    with pytest.raises(InvalidKey, match="expected an account seed"):
        from_seed(new_key(KeyKind.USER).seed, KeyKind.ACCOUNT)
    with pytest.raises(InvalidKey, match="invalid user seed"):
        from_seed("SUNOTASEED", KeyKind.USER)


def test_jwts_are_signed_by_their_issuer_with_every_limit_spelled_out() -> None:
    operator, account, user = new_key(KeyKind.OPERATOR), new_key(KeyKind.ACCOUNT), new_key(KeyKind.USER)
    op = operator_jwt(operator, "praxis", account.public_key, now=100)
    acc = account_jwt(operator, account.public_key, "PRAXIS", jetstream=True, now=100)
    usr = user_jwt(account, user.public_key, "scheduler", grant=Grant("scheduler", ("a.b",), ("c.>",)), now=100)
    for token, issuer in ((op, operator), (acc, operator), (usr, account)):
        _verify(token, issuer.public_key)
        assert decode(token)["iss"] == issuer.public_key
    assert decode(op)["nats"] == {"type": "operator", "version": 2, "system_account": account.public_key}
    limits = decode(acc)["nats"]["limits"]  # type: ignore[index]
    assert limits["conn"] == limits["subs"] == limits["disk_storage"] == NO_LIMIT
    claims = decode(usr)
    assert (claims["sub"], claims["name"], claims["iat"]) == (user.public_key, "scheduler", 100)
    assert claims["nats"]["pub"] == {"allow": ["a.b"]} and claims["nats"]["subs"] == NO_LIMIT  # type: ignore[index]


def test_an_empty_permission_list_denies_everything_instead_of_allowing_it() -> None:
    claims = permissions(Grant("nobody", (), ()))
    assert claims == {"pub": {"deny": [">"]}, "sub": {"deny": [">"]}}
    assert "resp" in permissions(Grant("answerer", ("x",), ("y",), allow_responses=True))


def test_decode_says_what_is_wrong() -> None:
    with pytest.raises(InvalidJwt, match="three"):
        decode("abc")
    with pytest.raises(InvalidJwt, match="base64url JSON"):
        decode("a.!!!.c")


def test_creds_round_trip_and_are_written_for_the_owner_only(tmp_path: Path) -> None:
    account, user = new_key(KeyKind.ACCOUNT), new_key(KeyKind.USER)
    jwt = user_jwt(account, user.public_key, "gateway", grant=Grant("gateway", ("x",), ("y",)))
    path = tmp_path / "creds" / "gateway.creds"
    write_secret(path, format_creds(jwt, user))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = read_creds(path)
    assert (creds.name, creds.jwt, creds.user.public_key) == ("gateway", jwt, user.public_key)
    assert user.seed not in repr(creds)


def test_bad_creds_get_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidCredentials, match="cannot read"):
        read_creds(tmp_path / "missing.creds")
    with pytest.raises(InvalidCredentials, match="not a NATS creds file: it holds no user JWT"):
        parse_creds("hello", "x.creds")
    account, user, other = new_key(KeyKind.ACCOUNT), new_key(KeyKind.USER), new_key(KeyKind.USER)
    jwt = user_jwt(account, user.public_key, "x", grant=None)
    with pytest.raises(InvalidCredentials, match="another user"):
        parse_creds(format_creds(jwt, other))
