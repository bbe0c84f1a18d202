"""Every third-party module skynet imports comes from a distribution ``setup.py`` declares.

Issue 10, finding 9: numba and scipy were imported directly but not declared, so ``pip install
skynet`` worked only while another package happened to pull them in. This test walks every
import in the package (tests included: they use the ``test`` and ``deploy`` extras) and maps each
top-level module to its distribution with :func:`importlib.metadata.packages_distributions`.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "skynet"

#: Modules whose distribution has another name and is not installed where the suite runs
#: (Airflow has a tox environment of its own); others not installed map to their own name.
NOT_INSTALLED = {"airflow": "apache-airflow"}


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """Normalized distribution name -> where ``setup.py`` declares it (``CORE`` or ``extra:name``)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name == "CORE":
            groups = {"CORE": ast.literal_eval(node.value)}
        elif name == "EXTRAS":
            groups = {f"extra:{k}": v for k, v in ast.literal_eval(node.value).items()}
        else:
            continue
        for where, requirements in groups.items():
            for requirement in requirements:
                found.setdefault(_normal(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]), where)
    return found


def imported_modules() -> dict[str, str]:
    """Top-level third-party module -> the first file (relative) that imports it."""
    modules: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top != "skynet" and top not in sys.stdlib_module_names:
                    modules.setdefault(top, str(path.relative_to(ROOT)))
    return modules


def test_every_imported_module_is_declared_in_setup_py():
    known = declared()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(imported_modules().items()):
        candidates = distributions.get(module) or [NOT_INSTALLED.get(module, module)]
        if not any(_normal(d) in known for d in candidates):
            missing.append(f"{module} (distribution {' or '.join(candidates)}; imported in {where})")
    assert not missing, "imported but not declared in setup.py CORE or an extra: " + "; ".join(missing)


def test_the_walk_sees_the_imports_it_must_check():
    modules = imported_modules()
    assert {"numpy", "pandas", "numba", "scipy", "click", "pytest"} <= modules.keys()
    assert not {"os", "json", "skynet", "__future__"} & modules.keys()
    assert declared()["numba"] == "CORE" and declared()["pyenergyplus-lbnl"] == "extra:energyplus"


def test_the_license_setup_py_names_is_there():
    assert 'license="Apache-2.0"' in (ROOT / "setup.py").read_text()
    text = (ROOT / "LICENSE").read_text()
    assert (
        "Apache License" in text
        and "Version 2.0, January 2004" in text
        and "END OF TERMS AND CONDITIONS" in text
    )
