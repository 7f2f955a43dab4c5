"""The HTTP/WebSocket face of Praxis: REST, WebSocket streams, the web console."""
