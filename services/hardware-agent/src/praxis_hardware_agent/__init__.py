"""One daemon per bench PC: PLR backends (real or chatterbox), machine commands, heartbeats."""

__version__ = "0.1.0"
