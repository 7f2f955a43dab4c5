"""The run-worker signer: a *scoped* signing key of the Praxis account, held by the executor.

It can issue users for run workers only: the account JWT pins its permissions to a template (requests to the
benches named in the user's ``bench:`` tags, replies on ``_INBOX_<user name>``), so a leaked signer cannot mint a
user that publishes events, touches JetStream or answers a bench. Worker credentials are short-lived: the
executor mints new ones before they expire (:func:`praxis_natsauth.worker.mint_worker_credentials`).
"""

from __future__ import annotations

from dataclasses import dataclass

from praxis_contracts.permissions import WORKER_ROLE, Grant, bench_subjects, inbox_prefix
from praxis_natsauth.jwt import ScopedSigner
from praxis_natsauth.keys import InvalidKey, Key, KeyKind, from_seed

NAME_TEMPLATE = "{{name()}}"
BENCH_TEMPLATE = "{{tag(bench)}}"
BENCH_TAG = "bench:"

_HEADER = (
    "# Praxis run-worker signer: a scoped signing key of the Praxis account; it can only issue run-worker users.\n"
    "# Secret: readable by the executor only (PRAXIS_EXECUTOR_WORKER_SIGNER points here).\n"
)


@dataclass(frozen=True, repr=False)
class WorkerSigner:
    key: Key
    account: str

    def __repr__(self) -> str:
        return f"WorkerSigner({self.key.public_key} of account {self.account})"


def worker_template() -> Grant:
    """What every run worker may do, with the server filling in its benches and its name (= run id)."""
    return Grant(WORKER_ROLE, bench_subjects(BENCH_TEMPLATE), (f"{inbox_prefix(NAME_TEMPLATE)}.>",))


def scope(signer: WorkerSigner) -> ScopedSigner:
    return ScopedSigner(
        signer.key.public_key, WORKER_ROLE, worker_template(), "run workers: their benches' requests only"
    )


def format_signer(signer: WorkerSigner) -> str:
    return f"{_HEADER}account: {signer.account}\nseed: {signer.key.seed}\n"


def parse_signer(text: str) -> WorkerSigner:
    """Read the signer file's text (``account:`` and ``seed:`` lines); a clear ValueError when it is not one."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not line.lstrip().startswith("#"):
            fields[name.strip()] = value.strip()
    account, seed = fields.get("account", ""), fields.get("seed", "")
    if not account.startswith("A") or not seed:
        raise ValueError("not a Praxis worker signer: it needs an 'account: A...' and a 'seed: SA...' line")
    try:
        key = from_seed(seed, KeyKind.ACCOUNT)
    except InvalidKey as exc:
        raise ValueError(f"worker signer: {exc}") from None
    return WorkerSigner(key, account)
