"""USB vendor/product ids that are literal in the PLR source, normalised to ``VVVV:PPPP``.

For pylabrobot 0.2.2 that is 14 devices (docs/discovery.md, Facts about PyLabRobot 0.2.2).

Ids appear in four shapes: keyword arguments of a transport call (``USB(id_vendor=0x08AF, ...)``), parameter
defaults (``vid: int = 0x0403``), class constants (``VENDOR_ID = 0x0C47``, ``SUPPORTED_USB_IDS = {(v, p)}``) and
enums documented as "USB product IDs" (Tecan Spark). A vendor often sits in a base class and the product in a
subclass's ``super().__init__(id_product=0x8000)``, so vendor and product are each taken from the nearest class
in the MRO that states one. Backends that talk through a helper object (``control_box: InhecoTECControlBox``)
inherit the helper's ids.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from praxis_discovery.catalog.index import PackageIndex
from praxis_discovery.catalog.syntax import dotted, integer, module_statements, walk

_DEVICE_METHODS = frozenset({"__init__", "setup", "_setup", "connect", "open"})
VENDOR_NAMES = frozenset({"vid", "id_vendor", "vendor_id", "idvendor", "vendor"})
PRODUCT_NAMES = frozenset({"pid", "id_product", "product_id", "idproduct", "product"})


@dataclass
class _Found:
    vendors: list[int] = field(default_factory=list)
    products: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)


def format_id(vendor: int, product: int) -> str:
    return f"{vendor:04X}:{product:04X}"


class UsbIds:
    def __init__(self, index: PackageIndex) -> None:
        self.index = index
        self._cache: dict[str, _Found] = {}

    def ids(self, fqn: str) -> list[str]:
        """Ids of a class from its own MRO (nearest vendor x nearest products, or explicit pairs)."""
        vendor: int | None = None
        products: list[int] | None = None
        for klass in self.index.mro(fqn):
            if klass.startswith("pylabrobot.io."):
                continue
            found = self._own(klass)
            if found.pairs:
                return sorted({format_id(v, p) for v, p in found.pairs})
            if vendor is None and found.vendors:
                vendor = found.vendors[0]
            if products is None and found.products:
                products = found.products
        if vendor is None or not products:
            return []
        return [format_id(vendor, p) for p in dict.fromkeys(products)]

    def _own(self, fqn: str) -> _Found:
        if fqn not in self._cache:
            facts = self.index.classes.get(fqn)
            module = self.index.modules.get(facts.module) if facts else None
            if facts is None or module is None or not module.mentions_usb:
                self._cache[fqn] = _Found()
            else:
                self._cache[fqn] = _scan_class(self.index, fqn, facts.module, facts.node)
        return self._cache[fqn]


def _scan_class(index: PackageIndex, fqn: str, module: str, node: ast.ClassDef) -> _Found:
    found = _Found()
    constants = _class_constants(node)
    for stmt in module_statements(node.body):
        if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    _classify(target.id, stmt.value, found, index, module, constants)
    for method in module_statements(node.body):
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = method.args
        positional = [*args.posonlyargs, *args.args]
        for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
            _classify(arg.arg, default, found, index, module, constants)
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if kw_default is not None:
                _classify(arg.arg, kw_default, found, index, module, constants)
        if method.name not in _DEVICE_METHODS:
            continue  # ids are given where the transport is built; skipping the rest keeps STAR (15k lines) cheap
        for sub in walk(method):
            if isinstance(sub, ast.Call):
                for kw in sub.keywords:
                    if kw.arg is not None:
                        _classify(kw.arg, kw.value, found, index, module, constants)
            elif isinstance(sub, ast.Name) and sub.id[:1].isupper():
                found.products.extend(_product_enum(index, module, sub.id))
    return found


def _class_constants(node: ast.ClassDef) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = stmt.value
    return out


def _classify(
    name: str,
    value: ast.expr,
    found: _Found,
    index: PackageIndex,
    module: str,
    constants: dict[str, ast.expr],
) -> None:
    lowered = name.lower()
    if "usb_ids" in lowered or lowered.endswith("usb_id_pairs"):
        found.pairs.extend(_pairs(value))
        return
    number = _int_value(index, module, value, constants)
    if number is None:
        return
    if lowered in VENDOR_NAMES or lowered.endswith("vendor_id"):
        found.vendors.append(number)
    elif lowered in PRODUCT_NAMES or lowered.endswith("product_id"):
        found.products.append(number)


def _pairs(value: ast.expr) -> list[tuple[int, int]]:
    if not isinstance(value, ast.Set | ast.List | ast.Tuple):
        return []
    pairs = []
    for elt in value.elts:
        if isinstance(elt, ast.Tuple) and len(elt.elts) == 2:
            v, p = integer(elt.elts[0]), integer(elt.elts[1])
            if v is not None and p is not None:
                pairs.append((v, p))
    return pairs


def _int_value(index: PackageIndex, module: str, value: ast.expr, constants: dict[str, ast.expr]) -> int | None:
    """An int literal, a class constant (``self.VENDOR_ID``) or a module constant reached through imports."""
    number = integer(value)
    if number is not None:
        return number
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id in ("self", "cls"):
        const = constants.get(value.attr)
        return integer(const) if const is not None else None
    name = dotted(value) if isinstance(value, ast.Name | ast.Attribute) else None
    if name is None:
        return None
    target = index.resolve_local(module, name)
    if target is None or not index.is_internal(target):
        return None
    owner, _, attr = target.rpartition(".")
    facts = index.modules.get(owner)
    if facts is None or attr not in facts.values:
        return None
    return integer(facts.values[attr])


def _product_enum(index: PackageIndex, module: str, name: str) -> list[int]:
    """Members of an ``Enum`` documented as "USB product IDs", when the class body names it."""
    target = index.resolve_local(module, name)
    facts = index.classes.get(target or "")
    if facts is None:
        return []
    doc = (ast.get_docstring(facts.node) or "").lower()
    if "product id" not in doc:
        return []
    values = []
    for stmt in facts.node.body:
        if isinstance(stmt, ast.Assign):
            number = integer(stmt.value)
            if number is not None:
                values.append(number)
    return values
