"""Every third-party module the package imports is declared in pyproject.toml: a fresh install
has exactly what the code needs (a missing line here once passed locally and failed on a clean clone).
The simulator installs inside the package (``artwork.simulations``), never as a top-level
``simulations``, and the core imports nothing from it."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: import name -> distribution name, where they differ (werkzeug comes with flask).
DISTRIBUTIONS = {"PIL": "pillow", "sqlite_utils": "sqlite-utils", "werkzeug": "flask", "jsonschema_rs": "jsonschema-rs",
                 "psycopg_pool": "psycopg-pool"}
LOCAL = {"artwork"}  # a top-level `simulations` import would show up as an undeclared one


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


def test_the_simulator_installs_as_artwork_simulations():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "artwork" or p.startswith("artwork.") for p in setuptools["packages"]), setuptools["packages"]
    assert setuptools["package-dir"]["artwork.simulations"] == "simulations"
    assert setuptools["package-dir"]["artwork.static"] == "static"
    # Every folder of simulations/ with code is a listed package (none would be left out of a wheel).
    listed = set(setuptools["packages"])
    for init in (ROOT / "simulations").rglob("__init__.py"):
        parts = init.parent.relative_to(ROOT / "simulations").parts
        assert ".".join(("artwork.simulations", *parts)) in listed, init


def test_no_top_level_simulations_package_is_installed(tmp_path):
    # Isolated (-I) and away from the checkout: only what the installed distribution provides.
    code = ("import importlib.util as u, sys; spec = u.find_spec('artwork.simulations'); "
            "print(u.find_spec('simulations') is None, spec is not None and spec.origin.endswith('__init__.py'))")
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"], out


def test_nothing_imports_simulations_by_its_top_level_name():
    found = []
    for folder in ("artwork", "simulations", "tests", "benchmarks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
                found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "simulations"]
    assert not found, found


def test_the_core_does_not_import_the_simulator():
    code = ("import artwork.app, artwork.service, artwork.api, artwork.cli, sys; "
            "print([m for m in sys.modules if 'simulations' in m])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out
