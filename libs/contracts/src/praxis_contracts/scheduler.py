"""Messages owned by the scheduler service (commands it accepts, events it publishes, queries it answers)."""

from __future__ import annotations
