"""NATS decentralized authorization for Praxis: nkeys, operator/account/user JWTs, ``.creds`` files, the server
config, and short-lived run-worker credentials.

Modules: :mod:`.keys` (nkeys), :mod:`.jwt` (claims, signing), :mod:`.creds` (creds files, secret files),
:mod:`.server_config` (operator mode, MEMORY resolver), :mod:`.signer` (the executor's scoped key),
:mod:`.worker` (:func:`mint_worker_credentials`), :mod:`.authdir` (a whole installation in one directory).
Who may do what comes from :mod:`praxis_contracts.permissions`.
"""

from praxis_natsauth.authdir import AuthDir, AuthDirError, Report, add_bench, init_dir
from praxis_natsauth.creds import Credentials, InvalidCredentials, parse_creds, read_creds
from praxis_natsauth.worker import mint_worker_credentials, worker_inbox_prefix

__all__ = [
    "AuthDir",
    "AuthDirError",
    "Credentials",
    "InvalidCredentials",
    "Report",
    "add_bench",
    "init_dir",
    "mint_worker_credentials",
    "parse_creds",
    "read_creds",
    "worker_inbox_prefix",
]
