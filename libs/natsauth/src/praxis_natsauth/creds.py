"""``.creds`` files (a user JWT and its nkey seed, in the layout every NATS client reads) and secret files.

A creds file is a secret: it is written with mode 0600, through a temp file and a rename, so a reader never
sees half of one and nobody else on the machine can read it even for a moment.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from praxis_natsauth.jwt import InvalidJwt, decode
from praxis_natsauth.keys import InvalidKey, Key, KeyKind, from_seed

_BLOCK = re.compile(r"-{3,}BEGIN ([A-Z ]+)-{3,}\s*\n\s*(\S+)\s*\n\s*-{3,}END \1-{3,}")

_TEMPLATE = """-----BEGIN NATS USER JWT-----
{jwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{seed}
------END USER NKEY SEED------

*************************************************************
"""


class InvalidCredentials(ValueError):
    """A creds file that is missing, unreadable, or not a user JWT plus a user seed."""


@dataclass(frozen=True, repr=False)
class Credentials:
    """A parsed creds file: the user JWT, its claims (not verified) and the user key."""

    jwt: str
    user: Key

    @property
    def name(self) -> str:
        """The identity the JWT was issued to (``scheduler``, ``agent-<bench>``, a run id)."""
        return str(decode(self.jwt).get("name", ""))

    @property
    def expires_at(self) -> int | None:
        exp = decode(self.jwt).get("exp")
        return int(exp) if isinstance(exp, int | float) else None

    def __repr__(self) -> str:
        return f"Credentials({self.name!r}, {self.user.public_key})"


def format_creds(jwt: str, user: Key) -> str:
    """The text of a creds file for ``jwt`` and the user ``user`` it was issued to."""
    if user.kind is not KeyKind.USER:
        raise InvalidKey(f"a creds file holds a user seed, not {user.kind.described}'s")
    return _TEMPLATE.format(jwt=jwt, seed=user.seed)


def parse_creds(text: str, source: str = "credentials") -> Credentials:
    """Parse creds text; raises :class:`InvalidCredentials` saying what is wrong with ``source``."""
    blocks = {name: value for name, value in _BLOCK.findall(text)}
    jwt, seed = blocks.get("NATS USER JWT"), blocks.get("USER NKEY SEED")
    if jwt is None or seed is None:
        missing = "user JWT" if jwt is None else "user nkey seed"
        raise InvalidCredentials(f"{source} is not a NATS creds file: it holds no {missing}")
    try:
        claims = decode(jwt)
        user = from_seed(seed, KeyKind.USER)
    except (InvalidJwt, InvalidKey) as exc:
        raise InvalidCredentials(f"{source}: {exc}") from None
    if claims.get("sub") != user.public_key:
        raise InvalidCredentials(f"{source}: the JWT was issued to another user than the seed's")
    return Credentials(jwt=jwt, user=user)


def read_creds(path: Path) -> Credentials:
    """Read and check a creds file (a clear error instead of a client that hangs on a malformed one)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidCredentials(f"cannot read the NATS credentials file {path}: {exc.strerror or exc}") from None
    return parse_creds(text, str(path))


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (temp file in the same directory, then rename)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
