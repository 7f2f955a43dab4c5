"""The nats-server configuration of operator mode: trust the operator, preload the accounts (MEMORY resolver)."""

from __future__ import annotations

from collections.abc import Mapping

MAX_CONTROL_LINE = 65536


def render_auth_config(operator_jwt: str, system_account: str, accounts: Mapping[str, str]) -> str:
    """The authorization part of a server config: ``operator``, ``system_account``, ``resolver: MEMORY`` and
    ``resolver_preload`` (account public key -> account JWT, the system account's included).

    With the MEMORY resolver the accounts are fixed at server start: a changed account JWT (a rotated worker
    signer, a revocation) takes effect when the server restarts. Users are never listed: any user JWT signed by
    a preloaded account (or by one of its signing keys) is accepted, so adding a bench needs no restart.
    ``max_control_line`` is raised because a client sends its user JWT in its CONNECT line, and a service's
    exact permissions make a JWT longer than the default 4 KB limit.
    """
    if system_account not in accounts:
        raise ValueError("the system account's JWT must be preloaded too")
    preload = "\n".join(f'  {public}: "{jwt}"' for public, jwt in sorted(accounts.items()))
    return (
        "# NATS authorization for Praxis (operator mode), written by `praxis-admin nats-init`.\n"
        f'operator: "{operator_jwt}"\n'
        f"system_account: {system_account}\n"
        f"max_control_line: {MAX_CONTROL_LINE}\n"
        "resolver: MEMORY\n"
        f"resolver_preload: {{\n{preload}\n}}\n"
    )


def render_server_config(
    auth_config: str, *, host: str = "127.0.0.1", port: int = 4222, store_dir: str | None = None
) -> str:
    """A complete server config: ``auth_config`` plus listen address, message size and JetStream."""
    store = f'  store_dir: "{store_dir}"\n' if store_dir else "  # store_dir: /var/lib/nats   (default: a temp dir)\n"
    return f"{auth_config}\nhost: {host}\nport: {port}\nmax_payload: 8MB\njetstream {{\n{store}}}\n"
