"""Reading the documentation's tables, so tests can hold the docs to what the code does."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def docs_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after the heading ``heading`` (at any level, on
    whichever page of ``docs/`` holds it: exactly one must), each a list of stripped cells
    (header and separator rows left out). Fails if the heading or its table is gone, or if a
    row's cell count differs from the header's."""
    pattern = re.compile(rf"^#+ {re.escape(heading)}$")
    found = [(page, n) for page in sorted(DOCS.rglob("*.md"))
             for n, line in enumerate(page.read_text().splitlines()) if pattern.match(line)]
    assert len(found) == 1, f"docs/ has {len(found)} sections called {heading!r}, not one: {found}"
    page, start = found[0]
    lines = page.read_text().splitlines()
    table: list[list[str]] = []
    for line in lines[start + 1:]:
        if not line.startswith("|"):
            if table:
                break
            assert not line.startswith("#"), f"no table under {heading!r} in {page}"
            continue
        table.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))])
    assert len(table) > 2, f"the table under {heading!r} in {page} is empty"
    header, _separator, *rows = table
    for row in rows:
        assert len(row) == len(header), f"under {heading!r}: {row} does not match {header}"
    return rows
