"""Resource classes (``Resource`` subclasses that are not machines) and resource factory functions.

A factory is a public module-level function whose return annotation resolves to a resource class, or -- for
the 54 unannotated Cytomat/Liconic racks of pylabrobot 0.2.2 (docs/discovery.md, Facts about PyLabRobot
0.2.2) -- a function taking only ``name`` whose ``return`` builds one. Its *kind* is the nearest generic class
in the hierarchy: ``TecanPlate`` -> ``Plate``, ``HamiltonSTARDeck`` -> ``Deck``. Functions returning frontends
(``inheco_thermoshake() -> HeaterShaker``) are frontend factories, not resources.
"""

from __future__ import annotations

import ast

from praxis_discovery.catalog.abstract import AbstractnessOracle
from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.model import FrontendFactoryEntry, ResourceEntry
from praxis_discovery.catalog.params import constructor_params, function_params, init_node
from praxis_discovery.catalog.parse import FunctionFacts
from praxis_discovery.catalog.paths import ImportPaths, manufacturer_of
from praxis_discovery.catalog.resource_facts import BodyFacts
from praxis_discovery.catalog.syntax import deprecation_message, dotted, number, walk

RESOURCE = "pylabrobot.resources.resource.Resource"
MACHINE = "pylabrobot.machines.machine.Machine"
_GENERIC_PREFIX = "pylabrobot.resources."
_INFER_DEPTH = 3


class ResourceScanner:
    def __init__(self, index: PackageIndex, paths: ImportPaths, abstract: AbstractnessOracle) -> None:
        self.index = index
        self.paths = paths
        self.abstract = abstract
        self.facts = BodyFacts(index)
        self.resource_classes = sorted(
            c for c in index.classes if index.is_subclass(c, RESOURCE) and not index.is_subclass(c, MACHINE)
        )
        self._generic = {c for c in self.resource_classes if self._is_generic_module(c)}

    def _is_generic_module(self, fqn: str) -> bool:
        """Defined in a file directly under ``pylabrobot/resources/`` (``plate.py``), not a vendor package."""
        module = fqn.rpartition(".")[0]
        facts = self.index.modules.get(module)
        return module.startswith(_GENERIC_PREFIX) and module.count(".") == 2 and not (facts and facts.is_package)

    def is_resource_class(self, fqn: str) -> bool:
        return fqn in self.index.classes and self.index.is_subclass(fqn, RESOURCE)

    def is_machine_class(self, fqn: str) -> bool:
        return fqn in self.index.classes and self.index.is_subclass(fqn, MACHINE)

    def kind_of(self, fqn: str) -> str:
        """Nearest class in the MRO defined in a generic ``pylabrobot.resources.<module>`` file."""
        for klass in self.index.mro(fqn):
            if klass in self._generic:
                return klass
        return RESOURCE

    # -- classes -------------------------------------------------------------------------------------------

    def class_entries(self) -> list[ResourceEntry]:
        out = []
        for fqn in self.resource_classes:
            facts = self.index.classes[fqn]
            kind = self.kind_of(fqn)
            init = init_node(self.index, fqn)
            sizes = self._class_sizes(fqn)
            manufacturer, brand = manufacturer_of(facts.module)
            deprecation = deprecation_message(init[1].body) if init and init[0] == fqn else None
            out.append(
                ResourceEntry(
                    fqn=fqn,
                    name=facts.name,
                    module=facts.module,
                    import_path=self.paths.best(fqn),
                    callable="class",
                    kind=kind.rsplit(".", 1)[-1],
                    kind_fqn=kind,
                    returns=fqn,
                    manufacturer=manufacturer,
                    brand=brand,
                    size_x=sizes[0],
                    size_y=sizes[1],
                    size_z=sizes[2],
                    abstract=self.abstract.is_abstract(fqn),
                    deprecated=deprecation is not None,
                    deprecation=deprecation,
                    params=constructor_params(self.index, fqn),
                    line=facts.node.lineno,
                )
            )
        return out

    def _class_sizes(self, fqn: str) -> tuple[float | None, float | None, float | None]:
        """Literal sizes from the constructor: a ``super().__init__(size_x=...)`` call, else parameter defaults."""
        found = init_node(self.index, fqn)
        if found is None:
            return None, None, None
        owner, node = found
        sizes = self.facts.sizes(owner.rpartition(".")[0], node)
        if any(s is not None for s in sizes):
            return sizes
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = dict(
            zip([a.arg for a in positional[len(positional) - len(args.defaults) :]], args.defaults, strict=True)
        )
        defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None})
        return number(defaults.get("size_x")), number(defaults.get("size_y")), number(defaults.get("size_z"))

    # -- factories -----------------------------------------------------------------------------------------

    def returned_classes(self, fn: FunctionFacts) -> list[str]:
        """Package classes named by the return annotation (all of them, for ``Tuple[A, B]``)."""
        node = fn.node.returns
        if node is None:
            return []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return []
        if isinstance(node, ast.Name | ast.Attribute):
            target = self.index.resolve_local(fn.module, dotted(node) or "")
            return [target] if target in self.index.classes else []
        names = [dotted(n) for n in walk(node) if isinstance(n, ast.Name | ast.Attribute)]
        out = []
        for name in names:
            target = self.index.resolve_local(fn.module, name or "")
            if target in self.index.classes and target not in out:
                out.append(target)
        return out

    def _inferred_class(self, module: str, node: ast.FunctionDef | ast.AsyncFunctionDef, depth: int) -> str | None:
        """Class built by the first ``return <call>`` (through helper functions), for unannotated factories."""
        for stmt in walk(node):
            if not isinstance(stmt, ast.Return) or not isinstance(stmt.value, ast.Call):
                continue
            name = dotted(stmt.value.func)
            target = self.index.resolve_local(module, name) if name else None
            if target in self.index.classes:
                return target
            fn = self.index.functions.get(target or "")
            if fn is not None and depth > 0:
                annotated = self.returned_classes(fn)
                if len(annotated) == 1:
                    return annotated[0]
                return self._inferred_class(fn.module, fn.node, depth - 1)
        return None

    def factory_class(self, fn: FunctionFacts) -> tuple[str | None, bool]:
        """(resource class returned, is_frontend_factory) for a public function, or (None, False)."""
        if fn.name.startswith("_"):
            return None, False
        returned = self.returned_classes(fn)
        if any(self.is_machine_class(c) for c in returned):
            return None, True
        if fn.node.returns is not None:
            if len(returned) == 1 and self.is_resource_class(returned[0]) and _is_single(fn.node.returns):
                return returned[0], False
            return None, False
        params = [a.arg for a in [*fn.node.args.posonlyargs, *fn.node.args.args, *fn.node.args.kwonlyargs]]
        if params == ["name"] and fn.node.args.vararg is None and fn.node.args.kwarg is None:
            inferred = self._inferred_class(fn.module, fn.node, _INFER_DEPTH)
            if inferred is not None and self.is_resource_class(inferred) and not self.is_machine_class(inferred):
                return inferred, False
        return None, False

    def factories(self) -> tuple[list[ResourceEntry], list[FrontendFactoryEntry]]:
        resources: list[ResourceEntry] = []
        frontend_factories: list[FrontendFactoryEntry] = []
        for fqn in sorted(self.index.functions):
            fn = self.index.functions[fqn]
            returns, is_frontend_factory = self.factory_class(fn)
            if is_frontend_factory:
                frontend_factories.append(
                    FrontendFactoryEntry(
                        fqn=fqn,
                        name=fn.name,
                        import_path=self.paths.best(fqn),
                        returns=self.returned_classes(fn),
                        params=function_params(fn.node),
                    )
                )
            elif returns is not None:
                resources.append(self._factory_entry(fn, returns))
        return resources, frontend_factories

    def _factory_entry(self, fn: FunctionFacts, returns: str) -> ResourceEntry:
        kind = self.kind_of(returns)
        kind_name = kind.rsplit(".", 1)[-1]
        sizes = self.facts.sizes(fn.module, fn.node)
        count = self.facts.item_count(fn.module, fn.node)
        is_tips = self.index.is_subclass(returns, "pylabrobot.resources.tip_rack.TipRack")
        volume = self.facts.tip_volume(fn.module, fn.node) if is_tips else self.facts.max_volume(fn.module, fn.node)
        deprecation = deprecation_message(fn.node.body)
        raise_reason = self.facts.raises(fn.fqn)
        manufacturer, brand = manufacturer_of(fn.module)
        return ResourceEntry(
            fqn=fn.fqn,
            name=fn.name,
            module=fn.module,
            import_path=self.paths.best(fn.fqn),
            callable="factory",
            kind=kind_name,
            kind_fqn=kind,
            returns=returns,
            manufacturer=manufacturer,
            brand=brand,
            model=self.facts.model(fn.module, fn.node),
            size_x=sizes[0],
            size_y=sizes[1],
            size_z=sizes[2],
            tip_count=count if is_tips else None,
            well_count=None if is_tips else count,
            volume_ul=volume,
            deprecated=deprecation is not None,
            deprecation=deprecation,
            needs_network=self.facts.needs_network(fn.fqn),
            raises_on_call=raise_reason is not None,
            raise_reason=raise_reason,
            params=function_params(fn.node),
            line=fn.node.lineno,
        )


def _is_single(node: ast.expr) -> bool:
    """A plain class annotation (``Plate``, ``"Plate"``, ``res.Plate``), not ``Optional[...]``/``Tuple[...]``."""
    return isinstance(node, ast.Name | ast.Attribute) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
