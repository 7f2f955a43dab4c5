"""Record which catalog this instance serves and say so (``CatalogSynced``) when it differs from the last one:
a new PLR version or a rescan changes what the scheduler can resolve against."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from praxis_contracts.discovery import CatalogSynced
from praxis_discovery.db.tables import catalog_syncs


async def record_sync(uow_factory: Any, analyzer: Any) -> bool:
    catalog = analyzer.catalog
    counts = catalog.counts()
    async with uow_factory() as uow:
        last = (
            await uow.session.execute(sa.select(catalog_syncs).order_by(catalog_syncs.c.id.desc()).limit(1))
        ).first()
        same = last is not None and (last.plr_version, last.frontends, last.backends, last.resources) == (
            catalog.plr_version,
            counts["frontends"],
            counts["backends"],
            counts["resources"],
        )
        if same:
            return False
        await uow.session.execute(
            sa.insert(catalog_syncs).values(
                plr_version=catalog.plr_version,
                frontends=counts["frontends"],
                backends=counts["backends"],
                resources=counts["resources"],
                duration_s=analyzer.duration_s,
            )
        )
        uow.publish(
            CatalogSynced(
                plr_version=catalog.plr_version,
                frontends=counts["frontends"],
                backends=counts["backends"],
                resources=counts["resources"],
                simulated_frontends=counts.get("simulated_frontends", 0),
                duration_s=analyzer.duration_s,
            )
        )
        await uow.commit()
        return True
