"""The package `uva_cli` has no import cycle.

Each `.py` file under `uva_cli/` is parsed with `ast` (nothing is imported), and every
`import uva_cli...` and `from ..x import y` in it, relative or absolute, becomes an edge
module -> module. The test fails naming the cycle, with the file and line of each import.

Which imports count: all of them, at module level and inside functions alike. A module-level
cycle is the kind that breaks at import time (a partially initialised module); a cycle through
a function-level import works at run time, but it is the same tangle of concerns, one edit
(moving the import up) away from breaking, and the package is to be free of cycles, so it
counts too. Only imports under `if TYPE_CHECKING:` are left out, since they never run.

How a name resolves: `from pkg import name` is an edge to the submodule `pkg.name` when there is
one, else to `pkg` itself (its `__init__`). Importing a submodule also runs its parent packages'
`__init__` files, but that is not made an edge: a package's `__init__` is already running (or
done) before any of its submodules is, so a submodule importing a sibling through `from . import
x` while the package re-exports it is no cycle. Dynamic imports (`importlib.import_module(f"...")`,
the CLI's lazy commands and the package's lazy names) cannot be read statically and are not edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def package_modules(folder: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package) for every .py file under `folder`."""
    modules = {}
    for path in sorted(folder.rglob("*.py")):
        parts = [package, *path.relative_to(folder).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = (path, is_package)
    return modules


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None) if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST):
    """Every Import / ImportFrom node at any depth under `node`, except under `if TYPE_CHECKING:`."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    elif _type_checking_block(node):
        for statement in node.orelse:
            yield from _imports(statement)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _imports(child)


def import_graph(modules: dict[str, tuple[Path, bool]], package: str) -> dict[str, dict[str, str]]:
    """module -> {imported module of the package: "file:line" of the first import of it}."""
    def known(name: str) -> str | None:
        while name and name not in modules:  # `import pkg.mod.attr` style: the longest module prefix
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        edges: dict[str, str] = {}
        for node in _imports(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    parts = here.split(".")
                    if node.level - 1 >= len(parts):
                        raise ValueError(f"{path}:{node.lineno}: relative import beyond the top package")
                    base = ".".join(parts[:len(parts) - (node.level - 1)])
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            for target in targets:
                if target.split(".")[0] != package:
                    continue
                resolved = known(target)
                if resolved and resolved != name:
                    edges.setdefault(resolved, f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
                                               f":{node.lineno}")
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, str] | set[str] | list[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None if it has none (iterative DFS)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    for start in sorted(graph):
        if colour[start] != WHITE:
            continue
        colour[start] = GREY
        path = [start]
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = BLACK
                stack.pop()
                continue
            state = colour.get(nxt, BLACK)  # a name outside the graph leads nowhere
            if state == GREY:
                return path[path.index(nxt):] + [nxt]
            if state == WHITE:
                colour[nxt] = GREY
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    return "import cycle: " + " -> ".join(cycle) + "\n" + "\n".join(
        f"  {a} imports {b} at {graph[a][b]}" for a, b in zip(cycle, cycle[1:]))


def test_uva_cli_has_no_import_cycle():
    graph = import_graph(package_modules(ROOT / "uva_cli", "uva_cli"), "uva_cli")
    # the walk sees the package: module-level, function-level and relative imports all resolve
    assert "uva_cli.hashing" in graph["uva_cli.models.registry"]
    assert "uva_cli.models.pretrained" in graph["uva_cli.models.teachers"]
    assert "uva_cli.models.registry" in graph["uva_cli.engine"]  # inside a function
    assert "uva_cli.video.mp4" in graph["uva_cli.video.probe"]  # `from . import mp4`
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_hashing_imports_nothing_of_the_package():
    graph = import_graph(package_modules(ROOT / "uva_cli", "uva_cli"), "uva_cli")
    assert graph["uva_cli.hashing"] == {}


def test_cycle_finder_on_small_graphs():
    assert find_cycle({}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}) is None  # a diamond is no cycle
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"a"}}) == ["a", "a"]


@pytest.mark.parametrize("function_level", [False, True])
def test_an_artificial_cycle_is_found_and_named(tmp_path, function_level):
    """The models/ cycle this test was written for, rebuilt in a throwaway package: registry ->
    teachers -> pretrained -> registry, through relative, absolute and function-level imports."""
    pkg = tmp_path / "pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("")
    (pkg / "hashing.py").write_text("import hashlib\n")
    (pkg / "models" / "registry.py").write_text("from . import teachers\nfrom ..hashing import *\n")
    (pkg / "models" / "teachers.py").write_text("import pkg.models.pretrained as p\n")
    back = "from .registry import sha256\n"
    (pkg / "models" / "pretrained.py").write_text(
        "import os\n\ndef source_path():\n    " + back if function_level else back)
    (pkg / "models" / "unused.py").write_text("from typing import TYPE_CHECKING\n"
                                              "if TYPE_CHECKING:\n    from .registry import x\n")
    graph = import_graph(package_modules(pkg, "pkg"), "pkg")
    cycle = find_cycle(graph)
    assert cycle == ["pkg.models.pretrained", "pkg.models.registry", "pkg.models.teachers", "pkg.models.pretrained"]
    message = describe(cycle, graph)
    assert "pkg.models.pretrained imports pkg.models.registry at" in message
    assert f"pretrained.py:{4 if function_level else 1}" in message
    assert graph["pkg.models.unused"] == {}  # TYPE_CHECKING imports never run
    # the fix the real package got: the hash in a leaf module, the cycle gone
    (pkg / "models" / "pretrained.py").write_text("from ..hashing import sha256\n")
    assert find_cycle(import_graph(package_modules(pkg, "pkg"), "pkg")) is None
