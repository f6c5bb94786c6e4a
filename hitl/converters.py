"""URL converters: an object's id in a path is a number its database column can hold.

Django's `<int:...>` takes any run of digits, and an id past the 64-bit range reached the
database, which answered with an error (a 500). `<id:...>` matches only ids that fit, so any
other number is a plain 404, like an id nobody has.
"""

from django.urls.converters import IntConverter

LARGEST_ID = 2**63 - 1  # PostgreSQL's bigint, SQLite's integer


class DatabaseId(IntConverter):
    LARGEST = LARGEST_ID

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > LARGEST_ID:
            raise ValueError("not an id: past the 64-bit range")  # no match: Django's 404
        return number
