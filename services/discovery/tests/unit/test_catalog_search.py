"""Typeahead search over names, manufacturers and models."""

from __future__ import annotations

from praxis_discovery.catalog import Catalog, search


def test_exact_name_first(catalog: Catalog) -> None:
    assert search(catalog, "LiquidHandler", 3)[0].fqn == "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"


def test_prefix_of_words_in_names(catalog: Catalog) -> None:
    names = [h.name for h in search(catalog, "cor 96 360", 5)]
    assert "cor_96_wellplate_360uL_Fb" in names


def test_manufacturer_matches(catalog: Catalog) -> None:
    hits = search(catalog, "corning", 50)
    assert hits and all(h.manufacturer == "corning" or "cor" in h.name.lower() for h in hits)


def test_every_term_must_match(catalog: Catalog) -> None:
    assert all("tip" in h.name.lower() for h in search(catalog, "hamilton tip", 20))
    assert search(catalog, "hamilton zzzzqq", 5) == []


def test_type_filter_and_limit(catalog: Catalog) -> None:
    hits = search(catalog, "chatterbox", 3, type="backend")
    assert len(hits) == 3 and all(h.type == "backend" for h in hits)


def test_deprecated_entries_rank_below_current_ones(catalog: Catalog) -> None:
    names = [h.name for h in search(catalog, "cor_96_wellplate_360", 10)]
    assert names.index("cor_96_wellplate_360uL_Fb") < names.index("Cor_96_wellplate_360ul_Fb")


def test_empty_query(catalog: Catalog) -> None:
    assert search(catalog, "   ", 5) == []
