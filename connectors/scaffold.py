"""``hypermicro connectors new NAME``: an installable connector package with its contract test.

Layout written under ``--dir`` (the project root)::

    pyproject.toml                    entry point in the ``hypermicro.connectors`` group
    <name>_connector/__init__.py
    <name>_connector/<name>.py        the connector, from the chosen template
    tests/test_<name>_connector.py    the contract suite against a local fake of the source

``python -m pytest <dir>/tests`` passes as written (the pyproject puts the project on the path);
``pip install -e <dir>`` makes ``hypermicro connectors list`` and ``hypermicro connect`` find it.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"
KINDS: dict[str, str] = {
    "http": "a token-authenticated, paginated JSON API polled on a schedule",
    "stream": "a push stream (websocket) that never ends by itself",
    "file": "a local JSON-lines file that another program appends to",
}
"""Template name -> the kind of source it starts from."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class Scaffold:
    """What :func:`scaffold` wrote."""

    root: Path
    pyproject: Path
    module: Path
    test: Path
    package: str

    @property
    def files(self) -> list[Path]:
        return [self.pyproject, self.module.parent / "__init__.py", self.module, self.test]


def scaffold(name: str, directory: Path, tests_dir: Path | None = None, *, template: str = "http",
             force: bool = False) -> Scaffold:
    """Render the project for connector ``name`` from ``template`` (see :data:`KINDS`)."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"{name!r}: use 2-40 lower-case letters, digits or underscores, starting with a letter")
    if template not in KINDS:
        raise ValueError(f"unknown template {template!r}; choose one of {', '.join(KINDS)}")
    root = Path(directory)
    package = f"{name}_connector"
    tests_dir = Path(tests_dir) if tests_dir is not None else root / "tests"
    made = Scaffold(root, root / "pyproject.toml", root / package / f"{name}.py",
                    tests_dir / f"test_{name}_connector.py", package)
    existing = [p for p in made.files if p.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists (use --force to overwrite)")
    values = {
        "name": name,
        "title": name.replace("_", " ").title(),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "env_prefix": f"HYPERMICRO_{name.upper()}_",
        "package": package,
        "distribution": f"hypermicro-{name.replace('_', '-')}-connector",
        "template": template,
    }
    sources = {
        made.pyproject: TEMPLATES / "project" / "pyproject.toml.j2",
        made.module.parent / "__init__.py": TEMPLATES / "project" / "__init__.py.j2",
        made.module: TEMPLATES / template / "connector.py.j2",
        made.test: TEMPLATES / template / "test_connector.py.j2",
    }
    for target, source in sources.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(source.read_text()).substitute(values))
    return made
