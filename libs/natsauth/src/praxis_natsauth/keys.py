"""Ed25519 nkeys: new operator, account and user keys, their public keys and signatures (via ``nkeys``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

import nkeys


class InvalidKey(ValueError):
    """A seed that is malformed, or of another kind than expected (a user seed where an account's belongs)."""


class KeyKind(Enum):
    """The role of a key; its public key starts with the letter, its seed with ``S`` + the letter."""

    OPERATOR = ("O", nkeys.PREFIX_BYTE_OPERATOR)
    ACCOUNT = ("A", nkeys.PREFIX_BYTE_ACCOUNT)
    USER = ("U", nkeys.PREFIX_BYTE_USER)

    @property
    def letter(self) -> str:
        return str(self.value[0])

    @property
    def described(self) -> str:
        """``an operator`` / ``an account`` / ``a user``, for messages."""
        name = self.name.lower()
        return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"

    @property
    def prefix_byte(self) -> int:
        return int(self.value[1])


@dataclass(frozen=True, repr=False)
class Key:
    """A key pair from its seed. ``repr`` never shows the seed: keys end up in logs and tracebacks."""

    seed: str
    kind: KeyKind
    public_key: str

    def sign(self, data: bytes) -> bytes:
        signer = nkeys.from_seed(bytearray(self.seed.encode()))
        try:
            return bytes(signer.sign(data))
        finally:
            signer.wipe()

    def __repr__(self) -> str:
        return f"Key({self.kind.name}, {self.public_key})"


def new_key(kind: KeyKind) -> Key:
    """A fresh random key of ``kind``."""
    seed = nkeys.encode_seed(os.urandom(32), kind.prefix_byte).decode()
    return from_seed(seed, kind)


def from_seed(seed: str, kind: KeyKind) -> Key:
    """The key of ``seed``; raises :class:`InvalidKey` when it is not a valid seed of ``kind``."""
    seed = seed.strip()
    if not seed.startswith("S" + kind.letter):
        raise InvalidKey(f"expected {kind.described} seed (S{kind.letter}...), got one starting {seed[:2]!r}")
    try:
        pair = nkeys.from_seed(bytearray(seed.encode()))
        public = bytes(pair.public_key).decode()
        pair.wipe()
    except (nkeys.NkeysError, ValueError) as exc:
        raise InvalidKey(f"invalid {kind.name.lower()} seed ({type(exc).__name__})") from None
    return Key(seed=seed, kind=kind, public_key=public)
