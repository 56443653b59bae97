"""``hypermicro connectors new NAME``: write a connector module and its contract test."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def _package_of(directory: Path) -> str | None:
    """Dotted package of ``directory`` when it sits inside packages (``__init__.py`` files)."""
    parts: list[str] = []
    d = directory.resolve()
    while (d / "__init__.py").exists():
        parts.insert(0, d.name)
        d = d.parent
    return ".".join(parts) or None


def scaffold(name: str, directory: Path, tests_dir: Path | None = None, *, force: bool = False) -> tuple[Path, Path]:
    """Render the templates for connector ``name``; returns (module path, test path)."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"{name!r}: use 2-40 lower-case letters, digits or underscores, starting with a letter")
    directory = Path(directory)
    tests_dir = Path(tests_dir) if tests_dir is not None else directory / "tests"
    module_path = directory / f"{name}.py"
    test_path = tests_dir / f"test_{name}_connector.py"
    for path in (module_path, test_path):
        if path.exists() and not force:
            raise FileExistsError(f"{path} exists (use --force to overwrite)")
    package = _package_of(directory)
    values = {
        "name": name,
        "title": name.replace("_", " ").title(),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "env_prefix": f"HYPERMICRO_{name.upper()}_",
        "module": f"{package}.{name}" if package else name,
    }
    directory.mkdir(parents=True, exist_ok=True)
    tests_dir.mkdir(parents=True, exist_ok=True)
    module_path.write_text(Template((TEMPLATES / "connector.py.j2").read_text()).substitute(values))
    test_path.write_text(Template((TEMPLATES / "test_connector.py.j2").read_text()).substitute(values))
    return module_path, test_path
