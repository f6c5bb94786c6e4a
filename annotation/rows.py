"""Model instances from plain SQL rows, converted as the ORM would convert them.

The per-click paths (token, membership, item) read one row each with a plain cursor: building
the query through the ORM or `raw()` cost three to ten times the database's own time there.
"""

from typing import TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)

_converters: dict[tuple, list] = {}


def columns(model: type[Model], alias: str) -> str:
    """`alias.col1, alias.col2, ...` for every concrete field, in the order `instance` expects."""
    return ", ".join(f"{alias}.{field.column}" for field in model._meta.concrete_fields)


def instance(model: type[M], row: tuple) -> M:
    """The model instance for a row holding `columns(model, ...)`, as the ORM would load it."""
    values = list(row)
    for position, convert in _converters_for(model):
        values[position] = convert(values[position])
    # field_names None: every concrete field is in the row (django-stubs wants a list)
    return model.from_db(connection.alias, None, values)  # type: ignore[arg-type]


def _converters_for(model: type[Model]) -> list:
    key = (model, connection.vendor)
    if key not in _converters:
        found = []
        for position, field in enumerate(model._meta.concrete_fields):
            column = field.get_col(model._meta.db_table)
            steps = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if steps:
                found.append((position, _chain(steps, column)))
        _converters[key] = found
    return _converters[key]


def _chain(steps: list, column):
    def convert(value):
        for step in steps:
            value = step(value, column, connection)
        return value

    return convert
