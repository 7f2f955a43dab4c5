"""Run queue, asset resolution and time-bounded reservations."""
