"""The HTTP/WebSocket face of Praxis: REST, WebSocket streams, the web console."""

__version__ = "0.1.0"
