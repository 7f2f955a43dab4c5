"""``praxis-executor serve | migrate``."""

from __future__ import annotations

import sys

from praxis_servicekit.cli import run_cli


def main() -> None:
    from praxis_executor.bootstrap import build_from_args

    sys.exit(run_cli("executor", build_from_args))


if __name__ == "__main__":
    main()
