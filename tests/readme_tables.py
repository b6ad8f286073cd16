"""Reading README.md's tables, so tests can hold the documentation to what the code does."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after the ``heading`` line, each a list of stripped
    cells (header and separator rows left out). Fails if the heading or its table is gone, or
    if a row's cell count differs from the header's."""
    lines = README.read_text().splitlines()
    assert heading in lines, f"README.md lost its {heading!r} section"
    table: list[list[str]] = []
    for line in lines[lines.index(heading) + 1:]:
        if not line.startswith("|"):
            if table:
                break
            assert not line.startswith("#"), f"no table under {heading!r}"
            continue
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert len(table) > 2, f"the table under {heading!r} is empty"
    header, _separator, *rows = table
    for row in rows:
        assert len(row) == len(header), f"under {heading!r}: {row} does not match {header}"
    return rows
