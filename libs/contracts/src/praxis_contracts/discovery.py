"""Messages owned by the discovery service (commands it accepts, events it publishes, queries it answers)."""

from __future__ import annotations
