"""Gateway settings (env prefix ``PRAXIS_GATEWAY_``; the NATS and database URLs are shared and unprefixed)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import SettingsConfigDict

from praxis_servicekit.settings import ServiceSettings

DEFAULT_HEALTH_SERVICES = "discovery,scheduler,executor,hardware-agent"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRAXIS_GATEWAY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: str = ""
    auth: Literal["off", "api-key"] = "off"
    query_timeout_s: float = 5.0
    register_timeout_s: float = 30.0
    health_timeout_s: float = 1.5
    health_services: str = DEFAULT_HEALTH_SERVICES
    event_page_size: int = 500
    ws_queue_size: int = 1000
    ws_gap_timeout_s: float = 10.0
    ws_unknown_run_grace_s: float = 3.0
    outputs_slice_chars: int = 250_000
    ensure_streams: bool = True

    @property
    def cors_origin_list(self) -> list[str]:
        """``PRAXIS_GATEWAY_CORS_ORIGINS`` is comma separated (``*`` allows any origin)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def health_service_list(self) -> list[str]:
        return [s.strip() for s in self.health_services.split(",") if s.strip()]
