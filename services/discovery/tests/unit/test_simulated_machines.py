"""Simulated frontends and the machine-record rule: the backend must serve the frontend."""

from __future__ import annotations

from praxis_discovery.catalog import Catalog, validate_machine

LH = "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
CENTRIFUGE = "pylabrobot.centrifuge.centrifuge.Centrifuge"


def test_one_entry_per_generic_frontend(fake_catalog: Catalog) -> None:
    assert [(s.name, s.category) for s in fake_catalog.simulated_frontends] == [
        ("Simulated Liquid Handler", "liquid_handling"),
        ("Simulated Shaker", "shaking"),
    ]


def test_accepts_a_backend_that_serves_the_frontend(catalog: Catalog) -> None:
    assert (
        validate_machine(LH, "pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend", catalog)
        is None
    )
    assert (
        validate_machine(LH, "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STARBackend", catalog) is None
    )


def test_refuses_a_backend_of_another_frontend(catalog: Catalog) -> None:
    reason = validate_machine(CENTRIFUGE, "pylabrobot.centrifuge.chatterbox.LoaderChatterboxBackend", catalog)
    assert reason is not None and "does not serve Centrifuge" in reason and "CentrifugeBackend" in reason
    reason = validate_machine(LH, "pylabrobot.plate_reading.chatterbox.PlateReaderChatterboxBackend", catalog)
    assert reason is not None and "does not serve LiquidHandler" in reason


def test_refuses_abstract_deprecated_and_unknown(catalog: Catalog) -> None:
    abstract = validate_machine(LH, "pylabrobot.liquid_handling.backends.backend.LiquidHandlerBackend", catalog)
    assert abstract is not None and "abstract" in abstract
    deprecated = validate_machine(LH, "pylabrobot.liquid_handling.backends.hamilton.STAR_backend.STAR", catalog)
    assert deprecated is not None and "STARBackend" in deprecated
    assert "unknown backend" in (validate_machine(LH, "pylabrobot.nope.Backend", catalog) or "")
    assert "unknown frontend" in (validate_machine("pylabrobot.nope.Machine", "x", catalog) or "")
