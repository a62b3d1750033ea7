"""Plain-text and Markdown tables for the reports of `kcnn.inspect` (and `kcnn rf/params`)."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, total: bool = False
) -> str:
    """Columns aligned with two spaces between them, a rule under the header; the first
    ``left`` columns are left-aligned, the others right-aligned (numbers). With ``total``,
    the last row is a total and gets a rule above it too."""
    cells = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = []
    for index, row in enumerate(cells):
        if total and index == len(cells) - 1 and index > 0:
            lines.append(rule)
        cols = (c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        lines.append("  ".join(cols).rstrip())
        if index == 0:
            lines.append(rule)
    return "\n".join(lines)


def markdown_rows(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list:
    """The lines of a GitHub-flavoured Markdown table, underscores escaped in the cells."""
    align = ["---"] * left + ["---:"] * (len(header) - left)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row).replace("_", r"\_") + " |" for row in rows]
    return lines
