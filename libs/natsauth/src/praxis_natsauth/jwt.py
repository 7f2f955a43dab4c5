"""NATS v2 JWTs (``alg: ed25519-nkey``): operator, account and user claims, signed with nkeys; read back.

The claim layouts are the ones the NATS server decodes (nats-io/jwt v2). Every limit is written out as ``-1``
(no limit): an *omitted* limit is 0, which the server takes literally (an account with ``conn: 0`` accepts no
connection). Permissions always say ``allow`` *and*, when a list would be empty, ``deny: [">"]``: an empty allow
list is no restriction at all to the server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from praxis_contracts.permissions import Grant
from praxis_natsauth.keys import Key

Claims = dict[str, object]

HEADER: Claims = {"typ": "JWT", "alg": "ed25519-nkey"}
NO_LIMIT = -1
RESPONSE_TTL_NS = 15 * 60 * 1_000_000_000
"""How long an answerer may reply to a request it received (one reply each). A machine call may run for minutes;
a reply later than this is pointless: the asker has sent the request again long before."""

_UNLIMITED_CONNECTION = {"subs": NO_LIMIT, "data": NO_LIMIT, "payload": NO_LIMIT}


class InvalidJwt(ValueError):
    """Not a NATS JWT (three base64url parts, JSON claims)."""


@dataclass(frozen=True)
class ScopedSigner:
    """An account signing key that can only issue users with ``template``'s permissions (a run worker's).

    The server ignores the permissions inside a JWT such a key signs and applies the template, with
    ``{{name()}}`` and ``{{tag(bench)}}`` filled from that JWT's name and tags.
    """

    public_key: str
    role: str
    template: Grant
    description: str = ""


def encode(claims: Claims, issuer: Key) -> str:
    """Sign ``claims`` (``iss`` and ``jti`` are set here) as a compact JWT."""
    body: Claims = {k: v for k, v in claims.items() if k != "jti"}
    body["iss"] = issuer.public_key
    digest = hashlib.sha256(_json(body)).digest()
    body["jti"] = base64.b32encode(digest).decode().rstrip("=")
    signing_input = f"{_b64(_json(HEADER))}.{_b64(_json(body))}"
    return f"{signing_input}.{_b64(issuer.sign(signing_input.encode()))}"


def decode(token: str) -> Claims:
    """The claims of ``token``, *not verified* (the server verifies; we only read names and expiry back)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise InvalidJwt(f"a JWT has three dot-separated parts, this one has {len(parts)}")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJwt(f"the JWT's claims are not base64url JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise InvalidJwt("the JWT's claims are not a JSON object")
    return claims


def permissions(grant: Grant) -> Claims:
    """``pub``/``sub``/``resp`` of a user (or a scope template) from a :class:`Grant`."""
    claims: Claims = {"pub": _permission(grant.publish), "sub": _permission(grant.subscribe)}
    if grant.allow_responses:
        claims["resp"] = {"max": 1, "ttl": RESPONSE_TTL_NS}
    return claims


def operator_jwt(operator: Key, name: str, system_account: str, *, now: int | None = None) -> str:
    nats: Claims = {"type": "operator", "version": 2, "system_account": system_account}
    return encode(_claims(operator.public_key, name, nats, now), operator)


def account_jwt(
    operator: Key,
    account: str,
    name: str,
    *,
    jetstream: bool,
    signers: Sequence[ScopedSigner] = (),
    revocations: Mapping[str, int] | None = None,
    now: int | None = None,
) -> str:
    """An account issued by ``operator``; ``jetstream`` gives it unlimited JetStream storage on the server."""
    limits: Claims = {
        **_UNLIMITED_CONNECTION,
        "imports": NO_LIMIT,
        "exports": NO_LIMIT,
        "wildcards": True,
        "conn": NO_LIMIT,
        "leaf": NO_LIMIT,
    }
    if jetstream:
        limits.update({"mem_storage": NO_LIMIT, "disk_storage": NO_LIMIT, "streams": NO_LIMIT, "consumer": NO_LIMIT})
    nats: Claims = {"type": "account", "version": 2, "limits": limits}
    if signers:
        nats["signing_keys"] = [_scope(signer) for signer in signers]
    if revocations:
        nats["revocations"] = dict(sorted(revocations.items()))
    return encode(_claims(account, name, nats, now), operator)


def user_jwt(
    issuer: Key,
    user: str,
    name: str,
    *,
    grant: Grant | None,
    issuer_account: str | None = None,
    tags: Sequence[str] = (),
    expires_at: int | None = None,
    now: int | None = None,
) -> str:
    """A user signed by its account (``grant`` = its permissions), or by a scoped signer: then ``grant`` must be
    None (the server refuses a scoped user with permissions or limits of its own) and ``issuer_account`` is
    required."""
    nats: Claims = {"type": "user", "version": 2}
    if grant is not None:  # a scoped user must carry neither permissions nor limits: the scope sets both
        nats.update({**permissions(grant), **_UNLIMITED_CONNECTION})
    if issuer_account is not None:
        nats["issuer_account"] = issuer_account
    if tags:
        nats["tags"] = list(tags)
    return encode(_claims(user, name, nats, now, expires_at), issuer)


def _claims(subject: str, name: str, nats: Claims, now: int | None, expires_at: int | None = None) -> Claims:
    claims: Claims = {"iat": int(time.time()) if now is None else now, "name": name, "sub": subject, "nats": nats}
    if expires_at is not None:
        claims["exp"] = expires_at
    return claims


def _scope(signer: ScopedSigner) -> Claims:
    template: Claims = {**permissions(signer.template), **_UNLIMITED_CONNECTION}
    return {
        "kind": "user_scope",
        "key": signer.public_key,
        "role": signer.role,
        "template": template,
        "description": signer.description,
    }


def _permission(subjects: Sequence[str]) -> Claims:
    return {"allow": list(subjects)} if subjects else {"deny": [">"]}


def _json(claims: Claims) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
