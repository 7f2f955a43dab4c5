"""Run queue, asset resolution and time-bounded reservations that never double-book."""

__version__ = "0.1.0"
