"""``praxis-discovery serve | migrate | scan --json | analyze FILE --json``.

``scan`` and ``analyze`` need neither NATS nor Postgres: they are the static tools on their own.
"""

from __future__ import annotations

import sys


def _tool(name: str) -> object:
    def run(argv: list[str]) -> int:
        from praxis_discovery import cli

        return cli.main([name, *argv])

    return run


def main() -> None:
    from praxis_discovery.bootstrap import build_from_args
    from praxis_servicekit.cli import run_cli

    tools = {
        "scan": ("print the catalog of the installed PyLabRobot", _tool("scan")),
        "analyze": ("statically analyse a protocol file", _tool("analyze")),
    }
    sys.exit(run_cli("discovery", build_from_args, tools=tools))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
