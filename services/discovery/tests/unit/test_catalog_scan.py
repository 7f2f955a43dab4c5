"""The static scanner on a miniature PLR tree, one resolution rule at a time (fast, no real PLR needed)."""

from __future__ import annotations

from praxis_discovery.catalog import Catalog, ResourceEntry

LH = "pylabrobot.liquid_handling.liquid_handler.LiquidHandler"
LH_BACKEND = "pylabrobot.liquid_handling.backends.backend.LiquidHandlerBackend"
ROBOT = "pylabrobot.liquid_handling.backends.vendor.robot.RobotBackend"
ALIAS = "pylabrobot.liquid_handling.backends.vendor.robot.Robot"
CHATTER = "pylabrobot.liquid_handling.backends.chatterbox.LiquidHandlerChatterboxBackend"
SHAKER = "pylabrobot.shaking.shaker.Shaker"


class TestDiscovery:
    def test_frontends_and_backends_by_resolved_base_classes(self, fake_catalog: Catalog) -> None:
        assert {f.fqn for f in fake_catalog.frontends} == {LH, SHAKER}
        assert {b.name for b in fake_catalog.backends} == {
            "LiquidHandlerBackend",
            "LiquidHandlerChatterboxBackend",
            "OptionalBackend",
            "Robot",
            "RobotBackend",
            "_VendorBase",
            "ShakerBackend",
            "ShakerChatterboxBackend",
        }

    def test_test_files_and_look_alikes_are_not_scanned(self, fake_catalog: Catalog) -> None:
        names = {b.name for b in fake_catalog.backends}
        assert not {"NotScannedBackend", "AlsoNotScannedBackend", "ChatterBoxBackend"} & names

    def test_version_from_the_tree(self, fake_catalog: Catalog) -> None:
        assert fake_catalog.plr_version == "1.2.3-fake"


class TestResolution:
    def test_relative_aliased_import_as_base(self, fake_catalog: Catalog) -> None:
        chatter = fake_catalog.backend(CHATTER)
        assert chatter is not None and chatter.bases == [LH_BACKEND]  # `import LiquidHandlerBackend as _Base`

    def test_string_annotation_for_accepted_backend(self, fake_catalog: Catalog) -> None:
        shaker = fake_catalog.frontend(SHAKER)
        assert shaker is not None and shaker.accepts_backend == "pylabrobot.shaking.backend.ShakerBackend"

    def test_re_exports_star_imports_and_all(self, fake_catalog: Catalog) -> None:
        assert fake_catalog.resolve("pylabrobot.resources.Plate") == "pylabrobot.resources.plate.Plate"
        assert fake_catalog.resolve("pylabrobot.resources.AcmePlate") == "pylabrobot.resources.acme.plates.AcmePlate"
        assert fake_catalog.resolve("pylabrobot.liquid_handling.RobotBackend") == ROBOT  # two star hops
        # `_make` is private and not in __all__: not visible through the star import
        assert fake_catalog.resolve("pylabrobot.resources._make") is None
        assert (
            fake_catalog.resolve("pylabrobot.resources.acme.plates._make") == "pylabrobot.resources.acme.plates._make"
        )

    def test_module_level_alias(self, fake_catalog: Catalog) -> None:
        assert fake_catalog.resolve("pylabrobot.liquid_handling.backends.vendor.robot.AliasedRobotBackend") == ROBOT

    def test_conditional_import(self, fake_catalog: Catalog) -> None:
        assert (
            fake_catalog.resolve("pylabrobot.liquid_handling.backends.OptionalBackend")
            == "pylabrobot.liquid_handling.backends.vendor.optional.OptionalBackend"
        )

    def test_modules_and_unknown_names(self, fake_catalog: Catalog) -> None:
        assert fake_catalog.resolve("pylabrobot.resources.acme") == "pylabrobot.resources.acme"
        assert fake_catalog.resolve("pylabrobot.resources.Nope") is None
        assert fake_catalog.resolve("pylabrobot.nope.Plate") is None

    def test_subscripted_base(self, fake_catalog: Catalog) -> None:
        plate = fake_catalog.resource("pylabrobot.resources.plate.Plate")
        assert plate is not None and plate.kind == "Plate"


class TestClassification:
    def test_abstract_through_the_mro(self, fake_catalog: Catalog) -> None:
        flags = {b.name: b.abstract for b in fake_catalog.backends}
        assert flags["LiquidHandlerBackend"] and flags["_VendorBase"] and flags["ShakerBackend"]
        assert flags["OptionalBackend"]  # implements setup but not stop/aspirate96
        assert not flags["RobotBackend"] and not flags["LiquidHandlerChatterboxBackend"]

    def test_simulated_by_name(self, fake_catalog: Catalog) -> None:
        assert {b.name for b in fake_catalog.backends if b.simulated} == {
            "LiquidHandlerChatterboxBackend",
            "ShakerChatterboxBackend",
        }

    def test_deprecated_alias(self, fake_catalog: Catalog) -> None:
        alias = fake_catalog.backend(ALIAS)
        assert alias is not None and alias.deprecated and alias.replacement == ROBOT
        assert [p.name for p in alias.params] == ["port", "serial_number", "timeout"]  # through *args/**kwargs

    def test_backends_serve_frontends_by_accepted_type(self, fake_catalog: Catalog) -> None:
        robot = fake_catalog.backend(ROBOT)
        assert robot is not None and robot.frontends == [LH] and robot.category == "liquid_handling"

    def test_constructor_parameters(self, fake_catalog: Catalog) -> None:
        robot = fake_catalog.backend(ROBOT)
        assert robot is not None
        params = {p.name: p for p in robot.params}
        assert params["port"].required and params["port"].type == "str"
        assert (params["timeout"].default, params["timeout"].required) == (1.5, False)

    def test_usb_ids_across_base_and_subclass_normalised(self, fake_catalog: Catalog) -> None:
        robot = fake_catalog.backend(ROBOT)
        assert robot is not None and robot.usb_ids == ["08AF:8000"]  # vid 0x8AF in the base, pid in super()

    def test_requirements_from_the_opened_transport(self, fake_catalog: Catalog) -> None:
        robot = fake_catalog.backend(ROBOT)
        chatter = fake_catalog.backend(CHATTER)
        assert robot is not None and chatter is not None
        assert [(r.module, r.extra) for r in robot.requires] == [("usb", "usb")] and robot.transports == ["usb"]
        assert chatter.requires == []


class TestResources:
    @staticmethod
    def _entry(catalog: Catalog, name: str) -> ResourceEntry:
        found = [r for r in catalog.resources if r.name == name]
        assert len(found) == 1, name
        return found[0]

    def test_factory_facts(self, fake_catalog: Catalog) -> None:
        plate = self._entry(fake_catalog, "acme_96_wellplate_200uL")
        assert (plate.kind, plate.returns, plate.manufacturer) == (
            "Plate",
            "pylabrobot.resources.acme.plates.AcmePlate",
            "acme",
        )
        assert (plate.size_x, plate.size_y, plate.size_z, plate.model) == (
            127.76,
            85.48,
            14.2,
            "acme_96_wellplate_200uL",
        )

    def test_deprecated_alias_delegates_to_the_new_factory(self, fake_catalog: Catalog) -> None:
        old = self._entry(fake_catalog, "Acme_96_wellplate_200ul")
        assert old.deprecated and old.model == "acme_96_wellplate_200uL" and old.size_x == 127.76

    def test_raises_and_network_flags(self, fake_catalog: Catalog) -> None:
        by_name = {r.name: r for r in fake_catalog.resources}
        assert by_name["acme_holder"].raises_on_call
        assert "pedestal_size_z" in (by_name["acme_holder"].raise_reason or "")
        assert by_name["acme_downloaded"].needs_network and not by_name["acme_downloaded"].raises_on_call

    def test_unannotated_name_only_factory_is_inferred(self, fake_catalog: Catalog) -> None:
        rack = self._entry(fake_catalog, "acme_rack")
        assert rack.kind == "Plate" and rack.size_x == 127.0

    def test_private_functions_are_not_factories(self, fake_catalog: Catalog) -> None:
        assert "_private_plate" not in {r.name for r in fake_catalog.resources}

    def test_classes_are_listed_with_their_generic_kind(self, fake_catalog: Catalog) -> None:
        classes = {r.name: r.kind for r in fake_catalog.resources if r.callable == "class"}
        assert classes["AcmePlate"] == "Plate" and classes["Well"] == "Well"
        assert "LiquidHandler" not in classes and "Shaker" not in classes  # machines are not resources
