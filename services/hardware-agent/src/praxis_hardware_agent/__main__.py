"""``praxis-hardware-agent serve --bench-id ID --config BENCH.yaml``, and ``calls`` to read the call record
(``migrate`` is a no-op: the agent has no database server; its call record creates itself)."""

from __future__ import annotations

import sys


def main() -> None:
    from praxis_hardware_agent.bootstrap import add_serve_args, build_from_args
    from praxis_hardware_agent.entrypoints.cli import main as calls
    from praxis_servicekit.cli import ToolCommand, run_cli

    tools: dict[str, tuple[str, ToolCommand]] = {
        "calls": ("per run: calls performed, repeated and of unknown outcome (reads the state file)", calls)
    }
    sys.exit(run_cli("hardware-agent", build_from_args, add_serve_args=add_serve_args, tools=tools))


if __name__ == "__main__":
    main()
