"""Subject <-> class mapping for every message in :mod:`praxis_contracts`.

Subjects may hold ``{placeholders}`` (one token each), e.g. per-bench commands
``praxis.bench.{bench_id}.cmd.machine_call.v1``; :func:`decode` matches them token by token.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from functools import cache

from praxis_contracts.base import Message

MESSAGE_MODULES = ("common", "discovery", "scheduler", "executor", "hardware", "gateway")


class UnknownSubject(LookupError):
    """No message class is registered for a subject."""


class DuplicateSubject(ValueError):
    """Two message classes claim the same subject."""


def all_message_classes() -> list[type[Message]]:
    """Every concrete message class with a subject, in a stable order."""
    found: dict[str, type[Message]] = {}
    for name in MESSAGE_MODULES:
        module = importlib.import_module(f"praxis_contracts.{name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Message)
                and obj.__module__ == module.__name__
                and "subject" in vars(obj)
                and obj.subject
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def _pattern(subject: str) -> re.Pattern[str]:
    parts = [r"[^.]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in subject.split(".")]
    return re.compile(r"\.".join(parts) + r"\Z")


SubjectTable = tuple[dict[str, type[Message]], tuple[tuple[re.Pattern[str], type[Message]], ...]]


def build_table(classes: Iterable[type[Message]]) -> SubjectTable:
    """Index ``classes`` by subject; raises :class:`DuplicateSubject` when two claim the same subject.

    Templated subjects clash when their patterns are equal (``{bench_id}`` vs ``{id}`` in the same place), and an
    exact subject clashes with a template that matches it: either way one subject would have two owners.
    """
    exact: dict[str, type[Message]] = {}
    templated: list[tuple[re.Pattern[str], type[Message]]] = []
    for cls in classes:
        pattern = _pattern(cls.subject)
        clash = exact.get(cls.subject)
        if clash is None:  # same template, or an exact subject that an earlier template already matches
            clash = next((c for p, c in templated if p.pattern == pattern.pattern or p.match(cls.subject)), None)
        if clash is None and "{" in cls.subject:  # a template matching an earlier exact subject
            clash = next((c for s, c in exact.items() if pattern.match(s)), None)
        if clash is not None:
            raise DuplicateSubject(
                f"subject {cls.subject!r} of {cls.__module__}.{cls.__qualname__} is already claimed by "
                f"{clash.__module__}.{clash.__qualname__}"
            )
        if "{" in cls.subject:
            templated.append((pattern, cls))
        else:
            exact[cls.subject] = cls
    return exact, tuple(templated)


@cache
def _table() -> SubjectTable:
    return build_table(all_message_classes())


def class_for(subject: str) -> type[Message]:
    exact, templated = _table()
    if subject in exact:
        return exact[subject]
    for pattern, cls in templated:
        if pattern.match(subject):
            return cls
    raise UnknownSubject(f"no message class for subject {subject!r}")


class SubjectMismatch(ValueError):
    """A message whose fields contradict the subject it came on (a bench's event naming another bench)."""


def decode(subject: str, data: bytes | str) -> Message:
    """Validate ``data`` as the class registered for ``subject`` (raises UnknownSubject / ValidationError /
    :class:`SubjectMismatch`, see :func:`check_subject`)."""
    msg = class_for(subject).model_validate_json(data)
    check_subject(msg, subject)
    return msg


def check_subject(msg: Message, subject: str) -> None:
    """On a templated subject, the fields its placeholders name must equal the subject's tokens.

    NATS permissions decide who may publish on a subject, so the subject, not the payload, says which bench a
    per-bench message is from; a payload naming another bench raises :class:`SubjectMismatch`.
    """
    template = type(msg).subject
    if "{" not in template:
        return
    for part, token in zip(template.split("."), subject.split("."), strict=False):
        if part.startswith("{") and str(getattr(msg, part[1:-1])) != token:
            raise SubjectMismatch(f"{type(msg).__name__} on {subject} says {part[1:-1]}={getattr(msg, part[1:-1])!r}")


def subject_pattern(cls: type[Message]) -> str:
    """The NATS subject that covers every concrete subject of ``cls`` (each placeholder becomes ``*``)."""
    return re.sub(r"\{\w+\}", "*", cls.subject)


def subject_of(msg: Message | type[Message], **tokens: str) -> str:
    """The concrete subject of a message; placeholders are filled from ``tokens`` or the message's fields."""
    subject = msg.subject
    if "{" not in subject:
        return subject
    values = dict(tokens)
    if isinstance(msg, Message):
        for key in re.findall(r"\{(\w+)\}", subject):
            values.setdefault(key, str(getattr(msg, key)))
    return subject.format(**values)


def encode(msg: Message) -> bytes:
    return msg.model_dump_json().encode()
