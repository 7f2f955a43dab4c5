"""Short-lived NATS credentials for one run worker, minted by the executor at each worker start."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from praxis_contracts.permissions import inbox_prefix, worker_grant
from praxis_natsauth.creds import format_creds
from praxis_natsauth.jwt import user_jwt
from praxis_natsauth.keys import KeyKind, new_key
from praxis_natsauth.signer import BENCH_TAG, parse_signer


def mint_worker_credentials(
    signing_seed: str, run_id: str, benches: Sequence[str], expires_in_s: float, *, now: float | None = None
) -> str:
    """The text of a creds file for the worker of ``run_id`` on ``benches``, valid for ``expires_in_s``.

    ``signing_seed`` is the text of the ``worker-signer.nk`` file (``PRAXIS_EXECUTOR_WORKER_SIGNER``). The worker
    must connect with ``inbox_prefix=worker_inbox_prefix(run_id)``: it may subscribe to nothing else. It may
    send ``MachineCall``, ``LoadRunDeck``, ``EndRun`` and ``DescribeBench`` to ``benches`` and nothing else.
    When the credentials expire the server disconnects the worker, and a reconnect with them is refused: mint
    new ones before that (for example at half their lifetime) and reconnect with those.
    Raises ValueError for a run id or bench id that is not one subject token, no benches, or a bad signer.
    """
    if not expires_in_s > 0:
        raise ValueError(f"expires_in_s must be positive, got {expires_in_s}")
    worker_grant(run_id, benches)  # validates the tokens; the server applies the signer's template, not this
    signer = parse_signer(signing_seed)
    user = new_key(KeyKind.USER)
    issued = time.time() if now is None else now
    jwt = user_jwt(
        signer.key,
        user.public_key,
        run_id,
        grant=None,
        issuer_account=signer.account,
        tags=[BENCH_TAG + bench for bench in dict.fromkeys(benches)],
        expires_at=math.ceil(issued + expires_in_s),
        now=int(issued),
    )
    return format_creds(jwt, user)


def worker_inbox_prefix(run_id: str) -> str:
    """The ``inbox_prefix`` a worker connects with (``nats.connect(..., inbox_prefix=...)``)."""
    return inbox_prefix(run_id)
