"""Markdown tables for materialisation metadata, dataset cards and reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None,
                   empty: str = "(none)") -> str:
    """A GitHub-flavoured Markdown table.

    Args:
        header: column titles.
        rows: one sequence of cells per row, already formatted (str() is applied; `|` is escaped).
        numeric: per column, True to right-align (numbers); default all left-aligned.
        empty: what to return when there is no row.
    """
    rows = [list(row) for row in rows]
    if not rows:
        return empty
    for row in rows:
        assert len(row) == len(header), f"row of {len(row)} cells under {len(header)} columns: {row}"
    numeric = list(numeric) if numeric is not None else [False] * len(header)
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def sql_string(text: str) -> str:
    """A SQL string literal (DuckDB): single quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def sql_list(paths: Iterable[str]) -> str:
    """A DuckDB list of string literals, e.g. the files of one `read_parquet([...])`."""
    return "[" + ", ".join(sql_string(p) for p in paths) + "]"
