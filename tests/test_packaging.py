"""Every third-party module the package imports is declared in pyproject.toml: a fresh install
has exactly what the code needs (a missing line here once passed locally and failed on a clean clone)."""

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: import name -> distribution name, where they differ (werkzeug comes with flask).
DISTRIBUTIONS = {"PIL": "pillow", "sqlite_utils": "sqlite-utils", "werkzeug": "flask", "jsonschema_rs": "jsonschema-rs"}
LOCAL = {"artwork", "simulations"}


def imported_modules(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_runtime_imports_are_declared_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
                for dep in project["dependencies"]}
    third_party = (imported_modules(ROOT / "artwork") | imported_modules(ROOT / "simulations")) \
        - set(sys.stdlib_module_names) - LOCAL
    missing = sorted(m for m in third_party if DISTRIBUTIONS.get(m, m).lower() not in declared)
    assert not missing, f"imported but not in [project].dependencies: {missing}"
