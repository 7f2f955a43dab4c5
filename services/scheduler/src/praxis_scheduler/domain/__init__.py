"""Pure scheduling rules: inventory, asset resolution, reservation windows, queue order and ETAs (no I/O)."""
