"""Files that cannot yield a protocol: syntax errors, bad imports, no protocol, sync functions. Never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from praxis_discovery.analysis import Analysis


class TestSyntaxErrors:
    def test_line_and_column_of_the_error(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        source = protocol_source("syntax_error.py.txt")
        result = analyze("syntax_error.py.txt")
        assert result.protocols == []
        (diagnostic,) = result.diagnostics
        assert diagnostic.severity == "error" and diagnostic.message.startswith("syntax error")
        # CPython's own location (the executor would fail exactly there): the "=" missing its value
        assert (diagnostic.line, diagnostic.column) == locate(source, "= )")

    @pytest.mark.parametrize(
        ("source", "line", "column"),
        [
            ("def f(:\n  pass\n", 1, 7),
            ("x = 1\ny = (2 +\n", 2, 5),
            ("def f():\n    return 1 1\n", 2, 14),
            ("async def f():\n\tawait x\n  await y\n", 3, 10),
        ],
    )
    def test_positions_match_python(
        self, analyze_text: Callable[[str], Analysis], source: str, line: int, column: int
    ) -> None:
        (diagnostic,) = analyze_text(source).diagnostics
        assert (diagnostic.line, diagnostic.column) == (line, column)

    def test_garbage_never_crashes(self, analyze_text: Callable[[str], Analysis]) -> None:
        for source in ["\x00\x01", "(" * 500, "@\n", "async def", "class", "é = 1\n"]:
            result = analyze_text(source)
            assert result.protocols == [] and result.diagnostics


class TestImports:
    def test_unresolvable_plr_imports_are_reported_where_they_are(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        source = protocol_source("bad_import.py")
        result = analyze("bad_import.py")
        errors = {(d.line, d.column): d.message for d in result.diagnostics if d.severity == "error"}
        assert "no module named 'pylabrobot.no_such_module'" in errors[locate(source, "pylabrobot.no_such_module")]
        assert "cannot import name 'Plaet'" in errors[locate(source, "Plaet")]
        assert "did you mean 'Plate'" in errors[locate(source, "Plaet")]
        assert "cannot import name 'protocl'" in errors[locate(source, "protocl")]
        assert result.protocols == []

    def test_module_that_raises_on_import(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text("from pylabrobot.resources.falcon import plates\n")
        assert any("raises when imported" in d.message for d in result.diagnostics)

    def test_deprecated_module_warns(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text("from pylabrobot.plate_reading.clario_star_backend import CLARIOstarBackend\n")
        assert any(d.severity == "warning" and "deprecated" in d.message for d in result.diagnostics)

    def test_valid_submodule_and_function_imports_pass(self, analyze_text: Callable[[str], Analysis]) -> None:
        result = analyze_text(
            "from pylabrobot.resources import set_tip_tracking, hamilton\n"
            "from pylabrobot.liquid_handling.backends.hamilton.STAR_chatterbox import STARChatterboxBackend\n"
            "import pylabrobot.resources.plate as plate_module\n"
        )
        assert [d for d in result.diagnostics if d.severity == "error" and "no protocol" not in d.message] == []


class TestNoProtocol:
    def test_file_without_protocol(self, analyze: Callable[[str], Analysis]) -> None:
        result = analyze("no_protocol.py")
        assert result.protocols == []
        (diagnostic,) = result.diagnostics
        assert diagnostic.severity == "error" and "no protocol" in diagnostic.message
        assert (diagnostic.line, diagnostic.column) == (1, 1)

    def test_empty_file(self, analyze_text: Callable[[str], Analysis]) -> None:
        assert [d.message[:11] for d in analyze_text("").diagnostics] == ["no protocol"]


class TestSyncFunction:
    def test_sync_protocol_is_an_error_and_skipped(
        self,
        analyze: Callable[[str], Analysis],
        protocol_source: Callable[[str], str],
        locate: Callable[..., tuple[int, int]],
    ) -> None:
        result = analyze("sync_protocol.py")
        assert [p.function for p in result.protocols] == ["async_protocol"]
        line, column = locate(protocol_source("sync_protocol.py"), "sync_protocol(")
        (error,) = [d for d in result.diagnostics if d.severity == "error"]
        assert (error.line, error.column) == (line, column)
        assert "async def" in error.message
