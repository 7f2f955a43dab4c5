"""``praxis-gateway serve | migrate | create-api-key | list-api-keys | revoke-api-key``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from praxis_gateway import cli
from praxis_gateway.auth import ROLES
from praxis_gateway.config import Settings
from praxis_servicekit.logs import configure_logging


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="praxis-gateway", description="The HTTP/WebSocket face of Praxis.")
    sub = root.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve the API and console (default; PRAXIS_GATEWAY_HOST / _PORT)")
    sub.add_parser("migrate", help="upgrade the gateway schema to head")
    create = sub.add_parser("create-api-key", help="create an API key and print it once")
    create.add_argument("--name", required=True, help="who the key is for")
    create.add_argument("--role", choices=ROLES, default="scientist")
    sub.add_parser("list-api-keys", help="list API keys (never the keys themselves)")
    revoke = sub.add_parser("revoke-api-key", help="revoke an API key by id")
    revoke.add_argument("id")
    return root


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv) or ["serve"])
    settings = Settings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    match args.command or "serve":
        case "serve":
            return cli.serve(settings)
        case "migrate":
            return cli.migrate(settings)
        case "create-api-key":
            return cli.create_key(settings, args.name, args.role)
        case "list-api-keys":
            return cli.list_keys(settings)
        case "revoke-api-key":
            return cli.revoke_key(settings, args.id)
    return 2


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
