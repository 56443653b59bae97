"""The Python examples in docs/spikes.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "spikes.md"


def test_docs_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/spikes.md has no python example"
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
