"""Typeahead over the catalog: names, manufacturers, models, kinds and categories.

Queries are split into terms; every term must match some field of an entry (prefix of a word scores higher
than a substring). The index is a flat list of lower-cased strings built once per catalog, so a query is one
linear pass over ~700 entries (well under a millisecond; p50 in docs/benchmarks.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from praxis_discovery.catalog.model import BackendEntry, Catalog, FrontendEntry, ResourceEntry

EntryType = Literal["frontend", "backend", "resource"]

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


class SearchHit(BaseModel):
    fqn: str
    name: str
    type: EntryType
    kind: str | None = None
    category: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    deprecated: bool = False
    score: float


@dataclass(frozen=True)
class _Doc:
    hit: SearchHit
    name: str
    words: tuple[str, ...]
    fields: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    for chunk in re.split(r"[\s_.\-/]+", text):
        parts.extend(w.lower() for w in _WORD.findall(chunk))
        if chunk:
            parts.append(chunk.lower())
    return tuple(dict.fromkeys(parts))


def _doc(entry: FrontendEntry | BackendEntry | ResourceEntry) -> _Doc:
    if isinstance(entry, ResourceEntry):
        hit = SearchHit(
            fqn=entry.fqn,
            name=entry.name,
            type="resource",
            kind=entry.kind,
            manufacturer=entry.manufacturer,
            model=entry.model,
            deprecated=entry.deprecated,
            score=0,
        )
        extra = [entry.kind, entry.manufacturer or "", entry.brand or "", entry.model or ""]
    else:
        is_backend = isinstance(entry, BackendEntry)
        hit = SearchHit(
            fqn=entry.fqn,
            name=entry.name,
            type="backend" if is_backend else "frontend",
            category=entry.category,
            manufacturer=entry.manufacturer,
            deprecated=entry.deprecated if isinstance(entry, BackendEntry) else False,
            score=0,
        )
        extra = [entry.category.replace("_", " "), hit.manufacturer or ""]
    fields = tuple(f.lower() for f in extra if f)
    return _Doc(hit=hit, name=entry.name.lower(), words=_words(entry.name), fields=fields)


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        entries: list[FrontendEntry | BackendEntry | ResourceEntry] = [*catalog.frontends, *catalog.backends]
        entries.extend(catalog.resources)
        self.docs = [_doc(e) for e in entries]

    def search(self, query: str, limit: int = 20, type: EntryType | None = None) -> list[SearchHit]:
        terms = [t for t in re.split(r"[\s_]+", query.lower().strip()) if t]
        if not terms:
            return []
        whole = query.lower().strip()
        scored: list[tuple[float, _Doc]] = []
        for doc in self.docs:
            if type is not None and doc.hit.type != type:
                continue
            total = 0.0
            for term in terms:
                score = _score(term, doc)
                if score == 0:
                    break
                total += score
            else:
                if doc.name == whole:
                    total += 100
                elif doc.name.startswith(whole):
                    total += 40
                if doc.hit.deprecated:
                    total -= 15
                scored.append((total - len(doc.name) / 100, doc))
        scored.sort(key=lambda pair: (-pair[0], pair[1].name))
        return [doc.hit.model_copy(update={"score": round(score, 2)}) for score, doc in scored[:limit]]


def _score(term: str, doc: _Doc) -> float:
    if any(w == term for w in doc.words):
        return 30
    if any(w.startswith(term) for w in doc.words):
        return 20
    if term in doc.name:
        return 10
    if any(f.startswith(term) or f" {term}" in f for f in doc.fields):
        return 8
    if any(term in f for f in doc.fields):
        return 4
    return 0


def search(catalog: Catalog, q: str, limit: int = 20, type: EntryType | None = None) -> list[SearchHit]:
    """Best matches for a typeahead query (index built on first use and kept on the catalog object)."""
    index = catalog.search_index
    if not isinstance(index, SearchIndex):
        index = SearchIndex(catalog)
        catalog.search_index = index
    return index.search(q, limit=limit, type=type)
