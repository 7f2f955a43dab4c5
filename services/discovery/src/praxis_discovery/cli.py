"""Console tools that need neither NATS nor Postgres: ``scan``, ``analyze``, ``search`` and ``compat``.

``praxis-discovery scan --json`` prints the catalog of the installed PyLabRobot; ``praxis-discovery analyze FILE
--json`` prints the protocols and diagnostics of one file and exits 1 when any diagnostic is an error (2 when the
file cannot be read). The catalog comes from the cache (``PRAXIS_DISCOVERY_CACHE_DIR``) unless ``--refresh``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from praxis_discovery.analysis import analyze_source
from praxis_discovery.catalog import Catalog, compatibility_report, load_catalog, search


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="praxis-discovery", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.add_argument("--cache-dir", type=Path, default=None, help="catalog cache directory")
        p.add_argument("--refresh", action="store_true", help="rescan PyLabRobot, ignoring the cache")

    common(sub.add_parser("scan", help="catalog of the installed PyLabRobot"))
    analyze = sub.add_parser("analyze", help="static analysis of a protocol file")
    analyze.add_argument("file", type=Path)
    common(analyze)
    find = sub.add_parser("search", help="typeahead search over the catalog")
    find.add_argument("query")
    find.add_argument("--limit", type=int, default=20)
    common(find)
    common(sub.add_parser("compat", help="installed extras and backends that cannot run here"))
    return parser


def _catalog(args: argparse.Namespace) -> Catalog:
    return load_catalog(args.cache_dir, refresh=args.refresh).catalog


def _print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=None, separators=(",", ":")) + "\n")


def _scan(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    if args.json:
        data = catalog.model_dump(
            mode="json", exclude={"modules_index", "plr_root", "source_digest", "scanner_version"}
        )
        data["compatibility"] = compatibility_report(catalog).model_dump(mode="json")
        _print_json(data)
        return 0
    counts = catalog.counts()
    print(f"PyLabRobot {catalog.plr_version}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for entry in catalog.simulated_frontends:
        print(f"  {entry.name}: {', '.join(b.rsplit('.', 1)[-1] for b in entry.backends)}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    try:
        source = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    analysis = analyze_source(source, args.file.name, _catalog(args))
    if args.json:
        _print_json(analysis.model_dump(mode="json"))
    else:
        for protocol in analysis.protocols:
            assets = ", ".join(f"{a.name}: {a.plr_type.rsplit('.', 1)[-1]}" for a in protocol.assets)
            print(f"{protocol.function}: {protocol.name} v{protocol.version} [{assets}]")
        for d in analysis.diagnostics:
            print(f"{args.file}:{d.line or 0}:{d.column or 0}: {d.severity}: {d.message}")
    return 1 if analysis.has_errors else 0


def _search(args: argparse.Namespace) -> int:
    hits = search(_catalog(args), args.query, limit=args.limit)
    if args.json:
        _print_json([h.model_dump(mode="json") for h in hits])
    else:
        for hit in hits:
            print(f"{hit.type:9} {hit.kind or hit.category or '':16} {hit.name}  ({hit.fqn})")
    return 0


def _compat(args: argparse.Namespace) -> int:
    report = compatibility_report(_catalog(args))
    if args.json:
        _print_json(report.model_dump(mode="json"))
    else:
        installed = [e.extra for e in report.extras if e.installed] or ["none"]
        print(f"PyLabRobot {report.plr_version}; extras installed: {', '.join(installed)}")
        for backend in report.unavailable_backends:
            print(f"  cannot run {backend.fqn}: needs {', '.join(backend.extras or backend.missing)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"scan": _scan, "analyze": _analyze, "search": _search, "compat": _compat}
    return handlers[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
