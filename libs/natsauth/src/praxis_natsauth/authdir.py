"""A directory holding a whole Praxis NATS authorization: keys, JWTs, every identity's creds, server config.

Layout (every key and creds file mode 0600)::

    operator.nk  operator.jwt            the operator (trusted by the server)
    accounts/SYS.nk  accounts/SYS.jwt    the system account
    accounts/PRAXIS.nk  accounts/PRAXIS.jwt   the Praxis account (JetStream on)
    worker-signer.nk                     the executor's scoped key for run workers
    creds/<identity>.creds               discovery, scheduler, executor, gateway, agent-<bench> ...
    revoked.json                         user keys replaced by --rotate (still refused by the server)
    auth.conf  nats-server.conf          server config: authorization only / complete

Idempotent: keys that exist are kept, JWTs and configs are issued again (so they follow the permissions of
the code that runs them). ``rotate=True`` replaces the user keys and the worker signer and revokes the old user
keys; the operator and account keys stay, because JetStream keeps an account's streams under its public key and
a new account would start with none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from praxis_contracts.permissions import AGENT_PREFIX, SERVICES, Role, agent_role, grant, service_roles
from praxis_natsauth.creds import InvalidCredentials, format_creds, read_creds, write_secret
from praxis_natsauth.jwt import ScopedSigner, account_jwt, operator_jwt, user_jwt
from praxis_natsauth.keys import Key, KeyKind, from_seed, new_key
from praxis_natsauth.server_config import render_auth_config, render_server_config
from praxis_natsauth.signer import WorkerSigner, format_signer, parse_signer, scope

OPERATOR_NAME = "praxis"
SYSTEM_ACCOUNT = "SYS"
PRAXIS_ACCOUNT = "PRAXIS"


class AuthDirError(RuntimeError):
    """The directory cannot be used (not initialised, a damaged key file)."""


@dataclass(frozen=True)
class AuthDir:
    """The paths of one authorization directory."""

    root: Path

    @property
    def operator_seed(self) -> Path:
        return self.root / "operator.nk"

    @property
    def operator_jwt(self) -> Path:
        return self.root / "operator.jwt"

    def account_seed(self, name: str) -> Path:
        return self.root / "accounts" / f"{name}.nk"

    def account_jwt(self, name: str) -> Path:
        return self.root / "accounts" / f"{name}.jwt"

    @property
    def worker_signer(self) -> Path:
        return self.root / "worker-signer.nk"

    def creds(self, identity: str) -> Path:
        return self.root / "creds" / f"{identity}.creds"

    @property
    def revoked(self) -> Path:
        return self.root / "revoked.json"

    @property
    def auth_config(self) -> Path:
        return self.root / "auth.conf"

    @property
    def server_config(self) -> Path:
        return self.root / "nats-server.conf"

    def agents(self) -> list[str]:
        """Bench ids that have agent creds here."""
        found = sorted(self.root.glob(f"creds/{AGENT_PREFIX}*.creds"))
        return [path.stem[len(AGENT_PREFIX) :] for path in found]


@dataclass
class Report:
    """What an init wrote: ``(path, what happened)`` in order, and the environment each process needs."""

    written: list[tuple[Path, str]] = field(default_factory=list)
    env: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, path: Path, what: str) -> None:
        self.written.append((path, what))


def init_dir(root: Path, benches: Iterable[str] = (), *, rotate: bool = False) -> Report:
    """Create or complete the authorization in ``root`` for the services, the agents already there and
    ``benches``; see the module docstring for what is kept and what ``rotate`` replaces."""
    d, report, now = AuthDir(root), Report(), int(time.time())
    roles = [*service_roles().values(), *(agent_role(b) for b in dict.fromkeys([*d.agents(), *benches]))]
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    operator = _key(d.operator_seed, KeyKind.OPERATOR, report)
    system = _key(d.account_seed(SYSTEM_ACCOUNT), KeyKind.ACCOUNT, report)
    praxis = _key(d.account_seed(PRAXIS_ACCOUNT), KeyKind.ACCOUNT, report)
    signer = _signer(d, praxis, report, rotate=rotate)
    users = {role.identity: _user_key(d, role.identity, report, rotate=rotate) for role in roles}
    revoked = _revocations(d, {i: old for i, (_, old) in users.items() if old is not None}, now)
    auth = _write_trust(d, operator, (system, praxis), scope(signer), revoked, report, now)
    for role in roles:
        _issue(d, role, users[role.identity][0], praxis, report, now)
    _write(d.auth_config, auth, report, secret=False)
    _write(d.server_config, render_server_config(auth), report, secret=False)
    report.env = environment(d)
    return report


def add_bench(root: Path, bench_id: str) -> Report:
    """Issue the creds of one more agent in an initialised ``root`` (no server restart needed)."""
    d, report = AuthDir(root), Report()
    if not d.account_seed(PRAXIS_ACCOUNT).is_file():
        raise AuthDirError(f"{root} holds no Praxis account: run `praxis-admin nats-init {root}` first")
    praxis = _load(d.account_seed(PRAXIS_ACCOUNT), KeyKind.ACCOUNT)
    role = agent_role(bench_id)
    user, _ = _user_key(d, role.identity, report, rotate=False)
    _issue(d, role, user, praxis, report, int(time.time()))
    report.env = {role.identity: environment(d)[role.identity]}
    return report


def environment(d: AuthDir) -> dict[str, dict[str, str]]:
    """Per process, the variables that give it its credentials (what ``praxis-dev run`` sets too)."""
    env = {name: {f"PRAXIS_{name.upper()}_NATS_CREDS": str(d.creds(name))} for name in SERVICES}
    env["executor"]["PRAXIS_EXECUTOR_WORKER_SIGNER"] = str(d.worker_signer)
    for bench in d.agents():
        identity = AGENT_PREFIX + bench
        env[identity] = {"PRAXIS_AGENT_NATS_CREDS": str(d.creds(identity))}
    return env


# -------------------------------------------------------------------------------------------- internals


def _write_trust(
    d: AuthDir,
    operator: Key,
    accounts: tuple[Key, Key],
    signer: ScopedSigner,
    revoked: dict[str, int],
    report: Report,
    now: int,
) -> str:
    """Write the operator's and the two accounts' JWTs; returns the server's authorization config for them."""
    system, praxis = accounts
    jwts = {
        SYSTEM_ACCOUNT: account_jwt(operator, system.public_key, SYSTEM_ACCOUNT, jetstream=False, now=now),
        PRAXIS_ACCOUNT: account_jwt(
            operator, praxis.public_key, PRAXIS_ACCOUNT, jetstream=True, signers=[signer], revocations=revoked, now=now
        ),
    }
    op_jwt = operator_jwt(operator, OPERATOR_NAME, system.public_key, now=now)
    _write(d.operator_jwt, op_jwt, report, secret=False)
    for name, jwt in jwts.items():
        _write(d.account_jwt(name), jwt, report, secret=False)
    preload = {system.public_key: jwts[SYSTEM_ACCOUNT], praxis.public_key: jwts[PRAXIS_ACCOUNT]}
    return render_auth_config(op_jwt, system.public_key, preload)


def _issue(d: AuthDir, role: Role, user: Key, account: Key, report: Report, now: int) -> None:
    jwt = user_jwt(account, user.public_key, role.identity, grant=grant(role), now=now)
    _write(d.creds(role.identity), format_creds(jwt, user), report, secret=True)


def _key(path: Path, kind: KeyKind, report: Report) -> Key:
    """The key in ``path``, or a new one written there."""
    if path.is_file():
        return _load(path, kind)
    key = new_key(kind)
    write_secret(path, key.seed + "\n")
    report.add(path, "new key")
    return key


def _load(path: Path, kind: KeyKind) -> Key:
    try:
        return from_seed(path.read_text(), kind)
    except (OSError, ValueError) as exc:
        raise AuthDirError(f"{path}: {exc}") from None


def _signer(d: AuthDir, account: Key, report: Report, *, rotate: bool) -> WorkerSigner:
    path = d.worker_signer
    if path.is_file() and not rotate:
        try:
            signer = parse_signer(path.read_text())
        except (OSError, ValueError) as exc:
            raise AuthDirError(f"{path}: {exc}") from None
        if signer.account == account.public_key:
            return signer
    signer = WorkerSigner(new_key(KeyKind.ACCOUNT), account.public_key)
    write_secret(path, format_signer(signer))
    report.add(path, "new key")
    return signer


def _user_key(d: AuthDir, identity: str, report: Report, *, rotate: bool) -> tuple[Key, str | None]:
    """The user's key (kept from its creds file unless ``rotate``) and the public key it replaces, if any."""
    path = d.creds(identity)
    old: Key | None = None
    if path.is_file():
        try:
            old = read_creds(path).user
        except InvalidCredentials as exc:
            raise AuthDirError(f"{exc}; delete the file to issue new credentials") from None
        if not rotate:
            return old, None
        report.add(path, "new key")
    return new_key(KeyKind.USER), old.public_key if old is not None else None


def _revocations(d: AuthDir, replaced: dict[str, str], now: int) -> dict[str, int]:
    """The revocation list: what earlier rotations revoked, plus the user keys replaced now."""
    revoked: dict[str, int] = {}
    if d.revoked.is_file():
        try:
            revoked = {str(k): int(v) for k, v in json.loads(d.revoked.read_text()).items()}
        except (OSError, ValueError, AttributeError) as exc:
            raise AuthDirError(f"{d.revoked}: not a JSON object of public key -> time ({exc})") from None
    if replaced:
        revoked.update({public: now for public in replaced.values()})
        write_secret(d.revoked, json.dumps(revoked, indent=2, sort_keys=True) + "\n")
    return revoked


def _write(path: Path, text: str, report: Report, *, secret: bool) -> None:
    existed = path.is_file()
    if secret:
        write_secret(path, text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    report.add(path, "issued again" if existed else "created")
