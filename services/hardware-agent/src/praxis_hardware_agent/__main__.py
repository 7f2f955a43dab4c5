"""``praxis-hardware-agent serve --bench-id ID --config BENCH.yaml`` (``migrate`` is a no-op: no database)."""

from __future__ import annotations

import sys


def main() -> None:
    from praxis_hardware_agent.bootstrap import add_serve_args, build_from_args
    from praxis_servicekit.cli import run_cli

    sys.exit(run_cli("hardware-agent", build_from_args, add_serve_args=add_serve_args))


if __name__ == "__main__":
    main()
