"""The package's layout, drawn from its imports: the model below, the tools above, nothing back up.

Every import between the package's modules (those inside functions too) is read from the source, so
a new module or import that breaks the layout fails here.
"""

import ast
import os

from conftest import PACKAGE_DIR

PACKAGE = "fairseq_hybrid_vae"
# The floors, bottom up: a module imports from its own floor or lower ones, never from a higher one.
FLOORS = [
    {"common"},  # errors, option ranges, atomic writes, the supported stack
    {"modules", "data"},  # layers; datasets and prepared files
    {"models"},  # assemblies of layers, registered with fairseq
    {"criterions", "optim", "scoring"},  # registered with fairseq beside the models
    {"tasks"},  # the text_vae task: builds datasets, models and generators
    {"fairseq_fixes"},  # what the commands change in fairseq's behaviour
    {"hub_interface"},  # the Python API
    {"cli"},  # the commands
    {"__init__"},  # registers the plugin
]
FLOOR = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}


def module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))[: -len(".py")].replace(os.sep, ".")
    return relative[: -len(".__init__")] if relative.endswith(".__init__") else relative


def imports_of(path: str) -> set:
    """The package's modules (or subpackages) that the file at `path` imports."""
    name = module_name(path)
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(PACKAGE)}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.startswith(PACKAGE):
                found |= {f"{base}.{alias.name}" for alias in node.names} if not node.module else {base}
    return found


def room(name: str) -> str:
    parts = name.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def graph() -> dict:
    edges = {}
    for folder, _, files in os.walk(PACKAGE_DIR):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                edges[module_name(path)] = {target for target in imports_of(path) if target != PACKAGE}
    return edges


def test_the_package_root_holds_only_the_registration_and_the_python_api():
    files = {f for f in os.listdir(PACKAGE_DIR) if f.endswith(".py")}
    assert files == {"__init__.py", "hub_interface.py"}
    assert set(room(name) for name in graph()) <= set(FLOOR), set(room(name) for name in graph()) - set(FLOOR)


def test_no_import_runs_back_up():
    upward = [(source, target) for source, targets in graph().items() for target in targets
              if FLOOR[room(target)] > FLOOR[room(source)]]
    assert not upward, upward
    edges = graph()
    assert any(edges.values())  # the walk found imports


def test_no_import_circle():
    edges = graph()
    modules = set(edges)

    def resolve(target: str) -> str:  # `from . import x` names a module or a name of a package
        while target not in modules and "." in target:
            target = target.rsplit(".", 1)[0]
        return target

    done, on_path = set(), []

    def visit(module: str) -> None:
        if module in on_path:
            raise AssertionError("import circle: " + " -> ".join(on_path[on_path.index(module):] + [module]))
        if module in done:
            return
        on_path.append(module)
        for target in edges.get(module, ()):
            visit(resolve(target))
        on_path.pop()
        done.add(module)

    for module in sorted(modules):
        visit(module)
