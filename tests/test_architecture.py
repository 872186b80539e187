"""The import rules of docs/architecture.md, checked on every module (ast): arrows point one
way, the core and the model do no I/O, the exchange never reaches into the engine's core."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thalex_mm"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
SHARED = {"domain", "errors", "secrets"}  # the vocabulary every room may use
# room -> the other rooms it may import (besides SHARED); "*" = any room below cli
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),
    "errors": set(),
    "secrets": set(),
    "model": set(),
    "core": {"model"},
    "venue": {"core"},
    "exchange": {"venue"},
    "journal": set(),
    "report": {"journal"},
    "monitor": set(),  # it knows only the snapshot file
    "backtest": {"core", "exchange", "model"},
    "app": {"core", "model", "venue", "exchange", "journal", "backtest", "monitor"},
    "bench": {"app", "core", "model", "venue", "exchange", "journal", "backtest", "monitor"},
    "cli": {
        "app",
        "bench",
        "core",
        "model",
        "venue",
        "exchange",
        "journal",
        "backtest",
        "report",
        "monitor",
    },
}
# the sans-I/O rooms: no sockets, event loops, threads, clocks, files or logging
NO_IO = {"core", "model", "domain"}
IO_MODULES = {
    "asyncio", "socket", "selectors", "threading", "multiprocessing", "subprocess", "logging",
    "time", "os", "io", "pathlib", "websockets", "uvloop", "psycopg", "sqlite3", "signal",
}  # fmt: skip


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "thalex_mm"


def _imports(path: Path, module: str) -> list[str]:
    out: list[str] = []
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
    return out


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((path, module))
    return out


def test_every_import_follows_the_rooms_rules() -> None:
    broken = []
    for path, module in _modules():
        room = _room(module)
        if room in ("thalex_mm", "__main__"):
            continue
        assert room in MAY_IMPORT, (
            f"{module}: room {room!r} has no rules (add it here and to {DOC.name})"
        )
        for name in _imports(path, module):
            if not name.startswith("thalex_mm."):
                if room in NO_IO and name.split(".")[0] in IO_MODULES:
                    broken.append(f"{module} imports {name} (no I/O in {room}/)")
                continue
            target = _room(name)
            if target == room or target in SHARED:
                continue
            if target not in MAY_IMPORT[room]:
                broken.append(f"{module} imports {name} ({room}/ may not import {target}/)")
    assert not broken, "\n".join(broken)


def test_the_model_uses_numpy_and_the_standard_library_only() -> None:
    allowed = {"numpy", "math", "dataclasses", "typing", "collections", "__future__", "enum"}
    for path, module in _modules():
        if _room(module) != "model":
            continue
        for name in _imports(path, module):
            top = name.split(".")[0]
            assert top == "thalex_mm" or top in allowed, f"{module} imports {name}"


def test_the_document_lists_every_room() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("## Rooms") :]
    listed = set(re.findall(r"^\| `([a-z_]+)[/.]", table, re.M))
    rooms = {_room(m) for _, m in _modules()} - {"thalex_mm", "__main__", "secrets", "errors"}
    assert rooms <= listed | {"domain"}, f"rooms missing from {DOC.name}: {rooms - listed}"
