"""The package layout holds (issue 22): the domain never imports its front ends (``web``,
``cli``), and no two modules import each other at module level, type-only imports included.
An import inside a function (the app factory's ``register_commands``) is not a layer."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import authserver

PACKAGE = Path(authserver.__file__).parent
FRONT_ENDS = ("authserver.web", "authserver.cli")


def _name(path: Path) -> str:
    parts = ["authserver", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def _module_level(body: list[ast.stmt]) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If | ast.Try):  # ``if TYPE_CHECKING:`` and guarded imports
            yield from _module_level(node.body + node.orelse)


def imports(module: str) -> set[str]:
    """The authserver modules ``module`` imports at module level."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _module_level(ast.parse(path.read_text()).body):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return {m for m in found if m in MODULES and m != module}


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_domain_never_imports_web_or_cli() -> None:
    upward = {m: sorted(d for d in imports(m) if _in(d, FRONT_ENDS))
              for m in MODULES if m != "authserver" and not _in(m, FRONT_ENDS)}
    assert {m: d for m, d in upward.items() if d} == {}


def test_no_two_modules_import_each_other() -> None:
    graph = {m: imports(m) for m in MODULES}
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        for dep in sorted(graph[module]):
            if dep in path:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in done:
                walk(dep, [*path, dep])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            walk(module, [module])
    assert cycles == []


def test_the_check_sees_a_real_import() -> None:
    """The graph is not empty by mistake: the token endpoint's grants use the key ring."""
    assert "authserver.oauth.names" in imports("authserver.oauth.grants")
    assert "authserver.clients.policy" in imports("authserver.clients.documents")
