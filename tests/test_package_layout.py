"""The package's shape (issue 14): stage sub-packages without import cycles, no module reaching
into another's private names, modules of a readable size, every rule mapped in the architecture
page to the script and package function it runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "haicpred"
# issue 14: "no module over about 600 lines"; one past this wants splitting by concern
MAX_MODULE_LINES = 600


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(imported haicpred module, imported names) for every import in the file, function-level
    imports included (a cycle through a deferred import is still a cycle)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("haicpred"):
                continue
            names = [alias.name for alias in node.names]
            # `from haicpred.x import y` where y is itself a module
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if submodules:
                out += [(module, []) for module in submodules]
                names = [n for n in names if f"{target}.{n}" not in modules]
            if names or not submodules:
                out.append((target, names))
        elif isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names if alias.name.startswith("haicpred")]
    return out


def test_package_modules_are_a_readable_size():
    sizes = {name: len(path.read_text().splitlines()) for name, path in package_modules().items()}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"


def test_no_module_imports_another_modules_private_names():
    modules = package_modules()
    offences = []
    for name, path in modules.items():
        for target, names in imports_of(path, modules):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and target != name:
                offences.append(f"{name} imports {', '.join(private)} from {target}")
    assert not offences, offences


def test_package_has_no_import_cycles():
    modules = package_modules()
    graph = {name: sorted({target for target, _ in imports_of(path, modules)
                           if target in modules and target != name
                           # a package's __init__ is imported on the way to its modules
                           and not name.startswith(target + ".")})
             for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for target in graph[node]:
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_every_rule_is_mapped_to_its_script_and_package_function():
    rules = sorted(set(re.findall(r"^(?:rule|checkpoint) (\w+):",
                                  "\n".join(p.read_text() for p in
                                            (REPO / "workflow" / "rules").glob("*.smk")),
                                  flags=re.M)))
    architecture = (REPO / "docs" / "architecture.md").read_text()
    rows = {match.group(1): match.group(0) for match in
            re.finditer(r"^\| `(\w+)` \|.*$", architecture, flags=re.M)}
    missing = [rule for rule in rules if rule not in rows]
    assert not missing, f"rules without a row in docs/architecture.md: {missing}"
    modules = package_modules()
    for rule in rules:
        row = rows[rule]
        for script in re.findall(r"workflow/scripts/(\w+)\.py", row):
            assert (REPO / "workflow" / "scripts" / f"{script}.py").is_file(), row
        functions = re.findall(r"`(haicpred(?:\.\w+)+)\.(\w+)`", row)
        assert functions, f"the row of rule {rule} names no package function: {row}"
        for module, function in functions:
            assert module in modules, f"{rule}: no module {module}"
            tree = ast.parse(modules[module].read_text())
            defined = {node.name for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
            assert function in defined, f"{rule}: {module} defines no {function}"
