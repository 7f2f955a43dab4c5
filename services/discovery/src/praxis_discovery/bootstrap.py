"""Discovery's composition root: loads the PLR catalog (cached per PLR version), wires queries to NATS and
publishes ``CatalogSynced`` when the catalog it serves changed."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
from pathlib import Path

from praxis_discovery import __version__
from praxis_discovery.config import Settings
from praxis_servicekit.handlers import query_routes_for
from praxis_servicekit.periodic import every
from praxis_servicekit.service import DbSpec, ServiceContext, ServiceSpec, Wiring

MIGRATIONS = Path(__file__).parent / "db" / "migrations"
log = logging.getLogger(__name__)


def build(settings: Settings | None = None) -> ServiceSpec:
    from praxis_discovery.db.tables import metadata

    settings = settings or Settings()
    return ServiceSpec(
        name="discovery",
        version=__version__,
        settings=settings,
        db=DbSpec(metadata=metadata, migrations=MIGRATIONS),
        wire=functools.partial(wire, settings=settings),
    )


def build_from_args(_: argparse.Namespace) -> ServiceSpec:
    return build()


async def wire(ctx: ServiceContext, settings: Settings) -> Wiring:
    from praxis_discovery import handlers
    from praxis_discovery.adapters.analyzer import AnalyzerHolder, CatalogAnalyzer
    from praxis_discovery.adapters.catalog_sync import record_sync

    holder = AnalyzerHolder(await asyncio.to_thread(CatalogAnalyzer.load))
    await record_sync(ctx.uow_factory, holder.current)

    async def resync_if_plr_changed() -> None:
        """A `pip install -U pylabrobot` under a running service: rescan, serve the new catalog, say so."""
        if await asyncio.to_thread(holder.current.changed):
            holder.current = await asyncio.to_thread(CatalogAnalyzer.load)
            await record_sync(ctx.uow_factory, holder.current)

    deps = {"analyzer": holder, "max_source_bytes": settings.max_source_bytes}
    queries = query_routes_for(handlers.QUERY_HANDLERS, ctx.uow_factory, deps)
    queries += holder.catalog_routes()
    return Wiring(
        queries=queries,
        tasks=[every(settings.plr_check_s, resync_if_plr_changed)],
        health_details=lambda: {
            "plr_version": holder.current.plr_version,
            "catalog_source": holder.current.loaded_from,
        },
    )
