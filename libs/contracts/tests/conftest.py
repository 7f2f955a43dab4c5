"""Every message class of praxis_contracts, and a sample instance of each built from its fields.

Tests take a ``message_class`` argument to run once per class (``pytest_generate_tests`` below), and the
``sample`` fixture to build an instance with *every* field set to a non-default value. A field type the
generator does not know fails the test that needs it, naming the field: add an entry to ``SAMPLE_OVERRIDES``.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import pkgutil
import types
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pytest
from pydantic import BaseModel

import praxis_contracts
from praxis_contracts.base import Command, Event, Message, Query, Reply

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
UPDATE_ENV = "PRAXIS_UPDATE_SNAPSHOTS"

# (class name, field name) -> value, for fields whose type alone does not say what a valid value is.
SAMPLE_OVERRIDES: dict[tuple[str, str], Any] = {}

_BASES = {Message, Command, Event, Query, Reply}


def all_message_classes() -> list[type[Message]]:
    """Every concrete message class in every module of praxis_contracts (with or without a subject).

    Left out: the envelope bases, and intermediate bases without a subject of their own that other
    messages extend (``RunEvent``): they are never sent as such.
    """
    found: dict[str, type[Message]] = {}
    for info in pkgutil.iter_modules(praxis_contracts.__path__):
        module = importlib.import_module(f"praxis_contracts.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Message) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    classes = [found[key] for key in sorted(found) if found[key] not in _BASES]

    def intermediate(cls: type[Message]) -> bool:
        return not vars(cls).get("subject") and any(o is not cls and issubclass(o, cls) for o in classes)

    return [cls for cls in classes if not intermediate(cls)]


def snapshot_name(cls: type[Message]) -> str:
    """``<subject>.json`` for routed messages, ``<module>.<Class>.json`` for replies and per-service queries."""
    if cls.subject:
        return f"{cls.subject}.json"
    return f"{cls.__module__.removeprefix('praxis_contracts.')}.{cls.__qualname__}.json"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "message_class" in metafunc.fixturenames:
        classes = all_message_classes()
        metafunc.parametrize("message_class", classes, ids=[c.__qualname__ for c in classes])
    if "routed_class" in metafunc.fixturenames:
        classes = [c for c in all_message_classes() if c.subject]
        metafunc.parametrize("routed_class", classes, ids=[c.subject for c in classes])


class NoSample(TypeError):
    """The generator cannot make a value for a field type."""


def sample_value(annotation: Any, where: str) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any or annotation is object:
        return {"any": [1, 2.5, "three", None, {"nested": True}]}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return sample_value(options[0], where)
    if origin is Literal:
        return args[-1]  # not the first: more often differs from the default
    if origin in (list, Sequence, set, frozenset):
        return [sample_value(args[0] if args else Any, f"{where}[]")]
    if origin is tuple:
        return tuple(sample_value(a, f"{where}[{i}]") for i, a in enumerate(args) if a is not Ellipsis)
    if origin in (dict, Mapping):
        key_type, value_type = args or (str, Any)
        return {sample_value(key_type, f"{where}.key"): sample_value(value_type, f"{where}.value")}
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return list(annotation)[-1]
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 7
        if issubclass(annotation, float):
            return 2.5
        if issubclass(annotation, str):
            return f"sample-{where.rsplit('.', 1)[-1]}"
        if issubclass(annotation, datetime):
            return datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        if issubclass(annotation, date):
            return date(2024, 5, 6)
        if issubclass(annotation, timedelta):
            return timedelta(seconds=90)
        if issubclass(annotation, UUID):
            return UUID("12345678-1234-5678-1234-567812345678")
        if issubclass(annotation, BaseModel):
            return sample_fields(annotation, where)
    raise NoSample(f"no sample value for {where}: {annotation!r}; add one to SAMPLE_OVERRIDES in {__file__}")


def sample_fields(cls: type[BaseModel], where: str = "") -> dict[str, Any]:
    """A value for every field of ``cls`` (optional ones included, so every field is exercised)."""
    prefix = where or cls.__name__
    values = {}
    for name, info in cls.model_fields.items():
        key = (cls.__name__, name)
        values[name] = (
            SAMPLE_OVERRIDES[key] if key in SAMPLE_OVERRIDES else sample_value(info.annotation, f"{prefix}.{name}")
        )
    return values


@pytest.fixture
def sample() -> Callable[[type[Message]], Message]:
    """``sample(cls)``: a valid instance of ``cls`` with every field set."""

    def make(cls: type[Message]) -> Message:
        return cls.model_validate(sample_fields(cls))

    return make


@pytest.fixture
def schemas_dir() -> Path:
    return SCHEMAS_DIR


@pytest.fixture
def snapshot_file() -> Callable[[type[Message]], Path]:
    return lambda cls: SCHEMAS_DIR / snapshot_name(cls)


@pytest.fixture
def update_snapshots() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


@pytest.fixture
def message_classes() -> list[type[Message]]:
    return all_message_classes()


def schema_text(cls: type[Message]) -> str:
    return json.dumps(cls.model_json_schema(), indent=2, sort_keys=True) + "\n"


def snapshot_problem(cls: type[Message], path: Path) -> str | None:
    """Why ``cls`` does not match its snapshot at ``path`` (None when it does), with a diff and what to do."""
    regenerate = f"`{UPDATE_ENV}=1 uv run pytest libs/contracts` and commit libs/contracts/schemas/"
    if not path.exists():
        return f"{cls.__qualname__} has no JSON-schema snapshot {path.name}: run {regenerate}"
    expected, actual = path.read_text(), schema_text(cls)
    if expected == actual:
        return None
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "snapshot", "code", lineterm=""))
    shown = "\n".join(diff[:80]) + ("\n..." if len(diff) > 80 else "")
    return (
        f"the JSON schema of {cls.__module__}.{cls.__qualname__} ({cls.subject or 'no subject'}) changed without "
        f"updating {path.name}.\nAdding an optional field keeps the version: run {regenerate}. Removing, renaming "
        f"or retyping a field needs a new class on the next .vN subject instead.\n{shown}"
    )


@pytest.fixture(name="snapshot_problem")
def snapshot_problem_fixture() -> Callable[[type[Message], Path], str | None]:
    return snapshot_problem


@pytest.fixture(name="schema_text")
def schema_text_fixture() -> Callable[[type[Message]], str]:
    return schema_text
