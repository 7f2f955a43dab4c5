"""``python -m praxis_devstack`` is ``praxis-dev``."""

import sys

from praxis_devstack.cli import main

if __name__ == "__main__":
    sys.exit(main())
