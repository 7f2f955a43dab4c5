"""The shape of a protocol definition, shared by discovery (which produces it), the gateway (which validates
user parameters against it) and the scheduler (which resolves its asset requirements)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ParameterSpec(BaseModel):
    """A user parameter: a plain value the scientist chooses (not an asset)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    type: str = Field(description="'int', 'float', 'str', 'bool', 'list[float]', ... as written")
    default: Any = None
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] | None = None
    unit: str | None = None
    description: str | None = None


class AssetRequirement(BaseModel):
    """A parameter the platform provides: a machine or resource, resolved by the scheduler."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    plr_type: str = Field(description="fully qualified PLR class, e.g. pylabrobot.resources.plate.Plate")
    kind: Literal["machine", "resource"]
    category: str | None = Field(default=None, description="machine category, e.g. liquid_handling")
    optional: bool = False
    many: bool = False
    capabilities: list[str] = Field(default_factory=list)
    alternatives: list[str] = Field(default_factory=list, description="other accepted PLR types (unions)")


class Diagnostic(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    severity: Literal["error", "warning"] = "error"
    line: int | None = None
    column: int | None = None
    message: str


class ProtocolDefinition(BaseModel):
    """What discovery knows about one ``@protocol`` function in one source file."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(description="stable id: '<source hash prefix>-<function>'")
    name: str
    version: str = "0.1.0"
    description: str = ""
    function: str
    filename: str = ""
    source_hash: str = Field(default="", description="sha256 of the source file")
    parameters: list[ParameterSpec] = Field(default_factory=list)
    assets: list[AssetRequirement] = Field(default_factory=list)
    capabilities: dict[str, list[str]] = Field(default_factory=dict)
    setup_instructions: list[str] = Field(default_factory=list)
    data_views: list[dict[str, Any]] = Field(default_factory=list)
    estimated_duration_s: float | None = None

    def validate_parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check user values against the declared parameters; return them with defaults filled in.

        Raises :class:`InvalidParameter` naming the first offending parameter. Unknown names are refused so a
        typo never silently runs with a default.
        """
        known = {p.name: p for p in self.parameters}
        for name in values:
            if name not in known:
                raise InvalidParameter(name, f"unknown parameter (known: {', '.join(sorted(known)) or 'none'})")
        result: dict[str, Any] = {}
        for spec in self.parameters:
            if spec.name in values:
                result[spec.name] = _coerce(spec, values[spec.name])
            elif spec.required:
                raise InvalidParameter(spec.name, "is required")
            else:
                result[spec.name] = spec.default
        return result


class InvalidParameter(ValueError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"parameter '{name}': {reason}")
        self.name = name
        self.reason = reason


_SCALARS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
}


def _coerce(spec: ParameterSpec, value: Any) -> Any:
    base = spec.type.removeprefix("Optional[").removesuffix("]") if spec.type.startswith("Optional[") else spec.type
    if value is None:
        if "None" in spec.type or spec.type.startswith("Optional["):
            return None
        raise InvalidParameter(spec.name, f"must be a {spec.type}, not null")
    accepted = _SCALARS.get(base.split("|")[0].strip())
    if accepted is not None:
        if isinstance(value, bool) and bool not in accepted:
            raise InvalidParameter(spec.name, f"must be a {base}, got a boolean")
        if not isinstance(value, accepted):
            raise InvalidParameter(spec.name, f"must be a {base}, got {type(value).__name__} {value!r}")
        if base == "float" and isinstance(value, int | float):
            value = float(value)
    if spec.choices is not None and value not in spec.choices:
        raise InvalidParameter(spec.name, f"must be one of {spec.choices}, got {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidParameter(spec.name, f"must be >= {spec.minimum}, got {value}")
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidParameter(spec.name, f"must be <= {spec.maximum}, got {value}")
    return value
