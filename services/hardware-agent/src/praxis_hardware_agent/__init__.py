"""One daemon per bench PC: PLR backends (simulated too), machine commands, heartbeats."""
