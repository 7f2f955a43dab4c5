"""Static catalog of PyLabRobot and static analysis of protocol files (libcst; never imports either)."""

__version__ = "0.1.0"
