"""``python -m praxis_admin``: the same as the ``praxis-admin`` script."""

import sys

from praxis_admin.cli import main

sys.exit(main())
