"""Printing rows as aligned text or JSON for the command line."""

import json
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa


def to_jsonable(value):
    """Convert a mapped row (its columns only), a date or a Decimal into something json.dumps accepts."""
    if hasattr(value, "__table__"):
        return {column.key: to_jsonable(getattr(value, column.key)) for column in sa.inspect(value).mapper.column_attrs if column.key != "state"}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    return value


def print_rows(rows, columns: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{column: to_jsonable(getattr(row, column)) for column in columns} for row in rows]))
        return
    if not rows:
        print("(none)")
        return
    table = [[_cell(getattr(row, column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in table)) for index, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths)))
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
