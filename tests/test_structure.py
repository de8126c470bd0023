"""The model's modules import each other without a circle (issue 11, "Structure").

The dependency graph of ``model/`` is read from the source with ``ast``: every ``import`` and
``from ... import`` statement, including those inside functions (a lazy import is still a
dependency, and a circle through it is still a circle). A module of a subpackage also depends on
its package (``model.delivery.ledger`` runs ``model/delivery/__init__.py`` first); the root
package ``model`` is left out, it is the public facade that imports the model class.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_graph(package_dir: Path) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every ``.py`` file under ``package_dir``."""
    base = package_dir.parent
    files = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(base).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    root = package_dir.name
    graph = {}
    for name, path in files.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    mod = ".".join(up + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import mod`` imports the module ``pkg.mod``; ``from mod import name`` the module ``mod``
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in files else mod for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:  # ``import model.delivery.ledger.x``: the longest known prefix
                    t = t.rpartition(".")[0]
                if t:
                    deps.add(t)
        parent = name.rpartition(".")[0]
        if parent and parent != root:
            deps.add(parent)
        deps.discard(name)
        graph[name] = deps - {root}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_model_modules_import_each_other_without_a_circle():
    graph = module_graph(ROOT / "model")
    assert {"model.clusters", "model.marketplaces", "model.delivery.ledger", "model.delivery.councils"} <= set(graph)
    assert "model.delivery.ledger" in graph["model.clusters"]  # (the graph sees the edges)
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_graph_sees_imports_inside_functions(tmp_path):
    """A circle closed by an import inside a function is found (as the old clusters -> programmes
    -> marketplaces -> clusters one was), and one closed through a subpackage's ``__init__``."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("from . import b\n\ndef f():\n    return b.g()\n")
    (pkg / "b.py").write_text(textwrap.dedent("""
        def g():
            from .sub.c import h
            return h()
    """))
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("def h():\n    from ..a import f\n    return f\n")
    assert find_cycle(module_graph(pkg)) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    (pkg / "sub" / "c.py").write_text("def h():\n    return 1\n")
    assert find_cycle(module_graph(pkg)) is None
    (pkg / "sub" / "__init__.py").write_text("from .. import a\n")  # through the subpackage itself
    assert find_cycle(module_graph(pkg)) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.sub", "pkg.a"]


def test_every_model_module_imports_on_its_own():
    """Each module of ``model/`` imports first, with no other module of the model loaded (in a fresh
    interpreter; the root package's ``__init__`` is bypassed, so that its imports do not load the
    rest first and hide an order that fails)."""
    names = sorted(n for n in module_graph(ROOT / "model") if n != "model")
    code = textwrap.dedent(f"""
        import importlib, sys, types
        failed = []
        for name in {names!r}:
            for k in [k for k in sys.modules if k == "model" or k.startswith("model.")]:
                del sys.modules[k]
            stub = types.ModuleType("model")
            stub.__path__ = [{str(ROOT / "model")!r}]
            sys.modules["model"] = stub
            try:
                importlib.import_module(name)
            except Exception as e:
                failed.append(f"{{name}}: {{type(e).__name__}}: {{e}}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-c", "import model; print(model.MSMEEcosystem.__name__)"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "MSMEEcosystem", r.stderr
